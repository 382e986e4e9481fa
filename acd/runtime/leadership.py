"""Who may act: the lease holder, and only while its last renew is fresher than TTL minus a margin.

AMI cannot check a fencing token, so the active instance fences itself: every action and
every heartbeat asks :meth:`Leadership.may_act`, which reads the monotonic clock against
the moment the last successful renew was *sent* (the database started counting the TTL
no earlier). A process frozen past its lease (SIGSTOP, a long GC, a VM pause) therefore
sends nothing when it wakes, before its renew loop has even run again. A timer armed at
that deadline after every renew fences the instance even when nothing asks: a timer's
callback runs before the tasks its loop turn wakes, so after a freeze the instance is
fenced (``on_lost``) before its AMI keep-alive or any other task can send a thing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum

from acd.ports import Lease

log = logging.getLogger("acd.leadership")


class Role(StrEnum):
    """Where this instance stands."""

    STANDBY = "standby"
    """Connected and warm, not acting: another instance holds the lease (or none yet)."""
    ACTIVE = "active"
    """Holds the lease: routes calls, beats the dialplan, writes the hot state."""
    FENCED = "fenced"
    """Held the lease and lost it: acts no more, and stops."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseTiming:
    """How long a lease lasts, how often it is renewed, and the self-fencing margin."""

    ttl_s: float = 2.0
    renew_every_s: float = 0.3
    margin_s: float = 0.5
    """Stop acting this long before the lease could expire (clock drift, a slow write)."""

    def __post_init__(self) -> None:
        if not 0 < self.renew_every_s < self.ttl_s - self.margin_s:
            raise ValueError(
                f"lease timing: renew every {self.renew_every_s}s must be positive and shorter "
                f"than the TTL {self.ttl_s}s minus the margin {self.margin_s}s"
            )


class Leadership:
    """Renews (or waits for) the lease; promotes this instance when it gets it."""

    def __init__(
        self,
        *,
        lease: Lease,
        holder: str,
        timing: LeaseTiming = LeaseTiming(),
        on_promoted: Callable[[int], Coroutine[object, object, None]],
        on_lost: Callable[[str], None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease = lease
        self.holder = holder
        self.timing = timing
        self.on_promoted = on_promoted
        self.on_lost = on_lost
        self.monotonic = monotonic
        self.role = Role.STANDBY
        self.epoch = 0
        self.leader: str | None = None
        """The holder last seen (ourselves when active)."""
        self._renewed_at = float("-inf")
        self._promotion: asyncio.Task[None] | None = None
        self._fence_timer: asyncio.TimerHandle | None = None
        self.renew_failures = 0

    # -- the fence ---------------------------------------------------------------------------

    def may_act(self) -> bool:
        """Whether an action may be sent now (the lease is ours and surely not expired)."""
        if self.role is not Role.ACTIVE:
            return False
        fresh = self.monotonic() - self._renewed_at < self.timing.ttl_s - self.timing.margin_s
        if not fresh:
            self._lose("last renew older than the TTL minus the margin")
        return fresh

    @property
    def lease_age_s(self) -> float | None:
        """Seconds since the last successful renew (``None`` before the first)."""
        if self._renewed_at == float("-inf"):
            return None
        return self.monotonic() - self._renewed_at

    def status(self) -> str:
        """One line for the logs and the status output."""
        age = self.lease_age_s
        shown = "-" if age is None else f"{age:.1f}s"
        return f"{self.role.value} epoch {self.epoch} lease age {shown} leader {self.leader or '-'}"

    # -- the renew loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Try to get or renew the lease every ``renew_every_s`` until fenced or cancelled."""
        every = self.timing.renew_every_s
        while self.role is not Role.FENCED:
            await self.attempt()
            await asyncio.sleep(every)

    async def attempt(self) -> None:
        """One try: renew when active, acquire when standby; promote or fence as it says."""
        sent = self.monotonic()
        budget = self.timing.ttl_s - self.timing.margin_s
        try:
            grant = await asyncio.wait_for(
                self.lease.try_acquire(self.holder, self.timing.ttl_s), budget
            )
        except Exception as err:  # database down or slow: the fence decides, not this
            self.renew_failures += 1
            if self.renew_failures <= 3 or self.renew_failures % 20 == 0:
                log.warning("lease %s failed (%s): %s", self._verb(), type(err).__name__, err)
            if self.role is Role.ACTIVE:
                self.may_act()  # fences once the last renew is too old
            return
        self.renew_failures = 0
        self.leader = grant.holder
        if not grant.held:
            if self.role is Role.ACTIVE:
                self._lose(f"lease now held by {grant.holder} (epoch {grant.epoch})")
            return
        if self.role is Role.ACTIVE and grant.epoch != self.epoch:
            # Our lease lapsed and we took it again: someone may have acted in between.
            self._lose(f"lease lapsed (epoch {self.epoch} → {grant.epoch})")
            return
        self._renewed_at = sent
        self._arm_fence()
        if self.role is Role.STANDBY:
            self.role = Role.ACTIVE
            self.epoch = grant.epoch
            log.warning("promoted: %s holds the lease, epoch %d", self.holder, grant.epoch)
            # Taking over (hot state, resync) runs beside the renew loop: a slow takeover
            # must not let the lease lapse.
            self._promotion = asyncio.create_task(self.on_promoted(grant.epoch))
            self._promotion.add_done_callback(self._promoted)

    def _arm_fence(self) -> None:
        """(Re)arm the timer that checks the fence when the last renew reaches its limit."""
        self._disarm_fence()
        left = self.timing.ttl_s - self.timing.margin_s - (self.monotonic() - self._renewed_at)
        self._fence_timer = asyncio.get_running_loop().call_later(max(left, 0.0), self._fence_due)

    def _disarm_fence(self) -> None:
        if self._fence_timer is not None:
            self._fence_timer.cancel()
            self._fence_timer = None

    def _fence_due(self) -> None:
        self._fence_timer = None
        if self.may_act():
            self._arm_fence()  # the timer fired a hair early (clock resolution): look again

    def _promoted(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        err = task.exception()
        if err is not None:
            log.critical("takeover failed", exc_info=err)
            self._lose(f"takeover failed: {err}")

    async def release(self) -> None:
        """Give the lease up (clean stop): a standby takes over without waiting for the TTL."""
        if self.role is Role.ACTIVE:
            self.role = Role.FENCED
            self._disarm_fence()
            try:
                await asyncio.wait_for(self.lease.release(self.holder), 2.0)
            except Exception as err:
                log.warning("lease not released (%s): it expires by itself", err)

    def _verb(self) -> str:
        return "renew" if self.role is Role.ACTIVE else "acquire"

    def _lose(self, why: str) -> None:
        if self.role is Role.FENCED:
            return
        self.role = Role.FENCED
        self._disarm_fence()
        log.critical("leadership lost (epoch %d): %s; no more actions", self.epoch, why)
        self.on_lost(why)
