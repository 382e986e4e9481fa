"""The ports: what the runtime needs from the world, as narrow Protocols adapters implement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from acd.core import events as ev
from acd.core.commands import (
    Command,
    MoveCall,
    OfferCall,
    OverflowCall,
    SendToFallback,
    VerifyRoute,
)

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
    """Where decisions and records go for good (outbox, SQL); must not block."""

    def record(self, command: Command, *, config_version: str) -> None:
        """Keep one command with the configuration version in force when it was decided."""
        ...


class WallClock(Protocol):
    """Epoch seconds; the only clock the runtime reads."""

    def __call__(self) -> float:
        """Now, in epoch seconds."""
        ...
