"""An in-process lease for a journal kept in memory: one process, so one holder at a time.

With ``journal.url: memory://`` there is no database to share between instances; this
lease keeps the same rules as the SQL one (expiry by its own clock, epoch + 1 at every
change of holder) for the one process that can hold it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from acd.ports import LeaseGrant


class MemoryLease:
    """The ``Lease`` port in process."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.holder: str | None = None
        self.epoch = 0
        self.expires_s = float("-inf")

    async def try_acquire(self, holder: str, ttl_s: float) -> LeaseGrant:
        """Renew if ``holder`` holds it, take it (epoch + 1) if it expired, else refuse."""
        if ttl_s <= 0:
            raise ValueError(f"a lease TTL must be positive, not {ttl_s}")
        now = self.clock()
        if self.holder == holder and self.expires_s > now:
            self.expires_s = now + ttl_s
        elif self.expires_s <= now:
            self.holder, self.epoch, self.expires_s = holder, self.epoch + 1, now + ttl_s
        return LeaseGrant(
            held=self.holder == holder,
            holder=self.holder,
            epoch=self.epoch,
            expires_in_s=self.expires_s - now,
            db_now_s=now,
        )

    async def release(self, holder: str) -> None:
        """Expire the lease now if ``holder`` holds it."""
        if self.holder == holder:
            self.expires_s = self.clock()
