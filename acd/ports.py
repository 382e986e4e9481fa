"""The ports: what the runtime needs from the world, as narrow Protocols adapters implement."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from acd.core import events as ev
from acd.core.commands import (
    MoveCall,
    OfferCall,
    OverflowCall,
    SendToFallback,
    VerifyRoute,
)
from acd.hotstate import Doc, HotBatch, HotSnapshot
from acd.journal import JournalEntry

PbxCommand = OfferCall | OverflowCall | SendToFallback | MoveCall


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelSnapshot:
    """A caller's channel as the PBX shows it in a resync (CoreShowChannels + channelvars)."""

    uniqueid: str
    dept: str
    priority: str
    enqueued_at: float | None
    state: str
    """The contract's ACD_STATE: waiting, routing:<route>, overflow:<route> or fallback."""
    bridged: bool
    caller: str = ""


class Pbx(Protocol):
    """One PBX: sends the engine's decisions as actions and tells the truth when asked."""

    name: str

    async def execute(self, command: PbxCommand) -> list[ev.Event]:
        """Carry out one decision; events it proves at once (e.g. the caller is gone)."""
        ...

    async def verify(self, command: VerifyRoute) -> list[ev.Event]:
        """Ask where an unconfirmed route stands; never resends anything."""
        ...

    async def heartbeat(self, epoch_s: float) -> None:
        """Refresh the dialplan's heartbeat (only the active instance calls this)."""
        ...

    async def channels(self) -> list[ChannelSnapshot]:
        """Every caller channel of the contract now on this PBX (for a resync)."""
        ...


class Journal(Protocol):
    """Where journal entries go first (the outbox): must not block, must not lose them."""

    def append(self, entries: Sequence[JournalEntry]) -> None:
        """Take entries for the durable journal; returns at once, delivery follows."""
        ...


class JournalStore(Protocol):
    """The durable journal itself (SQL): idempotent batch inserts keyed by entry id."""

    async def write(self, entries: Sequence[JournalEntry]) -> int:
        """Insert a batch; an entry already there is skipped. Returns how many were new."""
        ...


class HotState(Protocol):
    """The hot state (Redis, or memory): live calls, agents, loads, console fan-out."""

    async def write(self, batch: HotBatch, *, epoch: int) -> None:
        """Write one batch atomically; ``HotStateFenced`` if a newer epoch wrote before."""
        ...

    async def load(self) -> HotSnapshot:
        """Everything stored, for an instance that starts or takes over."""
        ...

    async def loads_of(self, ids: Sequence[str]) -> dict[str, Doc]:
        """The loads published under these ids (ours or other platforms'); absent ones left out."""
        ...

    def notices(self) -> AsyncIterator[Doc]:
        """The console's live channel: every notice written from now on, in order."""
        ...

    async def close(self) -> None:
        """End the subscriptions this adapter opened (the client stays its owner's)."""
        ...


class WallClock(Protocol):
    """Epoch seconds; the only clock the runtime reads."""

    def __call__(self) -> float:
        """Now, in epoch seconds."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseGrant:
    """The outcome of one ``Lease.try_acquire``, every time read from the lease's own clock."""

    held: bool
    """Whether the asking holder holds the lease now."""
    holder: str | None
    """Who holds it (the asker when ``held``); ``None`` when nobody ever took it."""
    epoch: int
    """The epoch of that holding; it rises at every change of holder (fencing token)."""
    expires_in_s: float
    """Seconds until it expires by the lease's clock; ≤ 0 when expired (free to take)."""
    db_now_s: float
    """The lease's clock at the call, epoch seconds (to compare, never to act on)."""


class Lease(Protocol):
    """The leadership lease: at most one holder at a time, decided by the store's own clock.

    Whoever holds a grant acts for its epoch only until ``expires_in_s`` has passed by its
    own monotonic clock, counted from *before* the call (minus a margin): the grant says
    nothing about the time the answer took to come back. A call that raises or does not
    return in time counts as not renewed.
    """

    async def try_acquire(self, holder: str, ttl_s: float) -> LeaseGrant:
        """Renew for ``ttl_s`` if ``holder`` holds it, take it (epoch + 1) if free, else tell."""
        ...

    async def release(self, holder: str) -> None:
        """Expire it now if ``holder`` holds it, so a standby takes over at once (clean stop)."""
        ...
