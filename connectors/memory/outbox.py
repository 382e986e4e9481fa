"""MemoryOutbox: the embedded journal outbox; a store outage delays entries, it never drops one.

``append`` puts entries in a bounded in-memory queue and returns; one writer task drains
it into the ``JournalStore`` in batches. A failed write is retried with exponential backoff
and jitter (``StoreRetry``); when the store stays down past ``spool_after_s`` the batch in
hand and the queue go to the local ``SpoolFile``, and a full queue overflows there at once.
Spooled entries are forwarded first when the store answers again (the store is idempotent
by entry id, so an entry spooled after a write that did land is harmless).

``OutboxMetrics``, ``StoreRetry`` and ``BufferedOutbox`` (the bounded buffer that overflows
to the spool) are shared with the Redis outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from acd.journal import JournalEntry, uuid7_ms
from acd.ports import JournalStore
from connectors.asterisk.backoff import Backoff
from connectors.spool import SpoolFile, spool_entries
from connectors.sql.errors import JournalUnavailable

log = logging.getLogger(__name__)

BATCH = 1000
"""Entries per store write: large enough to amortise a round trip, small enough to retry."""
BUFFER_LIMIT = 100_000
"""Entries held in memory; beyond it ``append`` spools to disk instead."""
SPOOL_AFTER_S = 5.0
"""A store down this long: what waits in memory goes to disk, in case the process dies too."""
RETRY_MIN_S = 0.05
RETRY_MAX_S = 3.0
"""The backoff cap: once the store is back, the backlog starts draining within this."""
DRAIN_POLL_S = 0.005

# What a store raises when it cannot answer now (logged as a warning, without a traceback);
# anything else is logged with its traceback, and retried all the same: no entry is given up.
TRANSIENT: tuple[type[BaseException], ...] = (JournalUnavailable, OSError, TimeoutError)


def check_cancelled() -> None:
    """Raise ``CancelledError`` if this task was asked to stop.

    A cancellation that lands while a client library waits under its own timeout can come
    out as that library's timeout error (asyncio before 3.12); a retry loop that catches it
    would then never stop. ``Task.cancelling()`` still tells.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


@dataclass(slots=True, kw_only=True)
class OutboxMetrics:
    """An outbox's figures: what waits, how old it is, and what went through so far."""

    backlog: int = 0
    """Entries not yet in the store (memory, spool, or stream)."""
    oldest_age_s: float | None = None
    """Age of the oldest entry not yet in the store (from its UUIDv7), if any."""
    written: int = 0
    """Entries the store reported as new rows."""
    retries: int = 0
    """Store writes that failed and were retried."""
    bad: int = 0
    """Entries that could not be read back, set aside (dead letters, spool lines)."""
    spooled: int = 0
    """Entries written to the local spool."""


class StoreRetry:
    """Writes one batch into the store, retrying with backoff until it is in or ``give_up``."""

    def __init__(
        self,
        store: JournalStore,
        *,
        counters: OutboxMetrics,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.counters = counters
        self.backoff = backoff or Backoff(min_s=RETRY_MIN_S, max_s=RETRY_MAX_S)
        self._sleep = sleep
        self._clock = clock

    async def write(
        self, batch: Sequence[JournalEntry], *, give_up: Callable[[float], bool] = lambda _s: False
    ) -> bool:
        """``True`` once the batch is stored; ``False`` if ``give_up(outage_s)`` said so."""
        failed_at: float | None = None
        while True:
            check_cancelled()
            try:
                new = await self.store.write(batch)
            except Exception as err:  # every failure keeps the batch: see TRANSIENT
                if failed_at is None:
                    failed_at = self._clock()
                self._log_failure(err, len(batch))
                self.counters.retries += 1
                if give_up(self._clock() - failed_at):
                    return False
                await self._sleep(self.backoff.next_delay())
                continue
            if failed_at is not None:
                log.warning(
                    "journal store back after %.1f s and %d retries",
                    self._clock() - failed_at,
                    self.backoff.attempt,
                )
            self.backoff.reset()
            self.counters.written += new
            return True

    def _log_failure(self, err: Exception, size: int) -> None:
        # One line per failure would flood the log during a long outage: the first few and
        # then every 20th.
        attempt = self.backoff.attempt
        if attempt > 3 and attempt % 20:
            return
        if isinstance(err, TRANSIENT):
            log.warning(
                "journal store unavailable (%d entries wait, retry %d): %s", size, attempt, err
            )
        else:
            log.error(
                "journal store write failed (%d entries wait, retry %d)",
                size,
                attempt,
                exc_info=err,
            )


class BufferedOutbox:
    """What both outboxes share: a bounded buffer that overflows to the spool, one task
    that forwards it (``_run``, in subclasses), and a close that loses nothing."""

    task_name = "journal-outbox"

    def __init__(
        self, *, spool: SpoolFile, batch: int, buffer_limit: int, wall: Callable[[], float]
    ) -> None:
        self.spool = spool
        self.batch = batch
        self.buffer_limit = buffer_limit
        self._wall = wall
        self._counters = OutboxMetrics()
        self._buffer: deque[JournalEntry] = deque()
        self._inflight: list[JournalEntry] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._closed = False

    def append(self, entries: Sequence[JournalEntry]) -> None:
        """Buffer entries and return; a full buffer sends the excess to the spool."""
        room = self.buffer_limit - len(self._buffer)
        if len(entries) <= room and not self._stopping:
            self._buffer.extend(entries)
            self._wake.set()
            return
        if self._stopping:
            # Closing or closed: the task is gone, the spool keeps them for the next start.
            self._to_spool(entries)
            if self._closed:
                self.spool.close()
            return
        room = max(room, 0)
        self._buffer.extend(entries[:room])
        if not self._to_spool(entries[room:]):
            # The disk refuses too: memory past the limit is the last place that loses nothing.
            self._buffer.extend(entries[room:])
        self._wake.set()

    def _to_spool(self, entries: Sequence[JournalEntry]) -> bool:
        if not entries:
            return True
        if spool_entries(self.spool, entries):
            self._counters.spooled += len(entries)
            return True
        return False

    def start(self) -> None:
        """Start the forwarding task (call from the running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def _run(self) -> None:
        raise NotImplementedError

    async def drain(self, timeout: float) -> bool:
        """Wait until nothing waits here (memory and spool); ``False`` if ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while self._buffer or self._inflight or len(self.spool):
            if self._task is not None and self._task.done():
                self._task.result()  # the task died: say why
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(DRAIN_POLL_S)
        return True

    async def close(self, timeout: float = 5.0) -> None:
        """Forward for up to ``timeout`` s, then spool what is left and stop; nothing is lost."""
        with contextlib.suppress(Exception):
            await self.drain(timeout)
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        leftover = [*self._inflight, *self._buffer]
        self._inflight, self._buffer = [], deque()
        if not self._to_spool(leftover):
            log.critical("journal outbox closed with %d entries the disk refused", len(leftover))
        self._closed = True
        self.spool.close()

    def metrics(self) -> OutboxMetrics:
        """A snapshot of the figures (reads the spool's first line for the age)."""
        oldest_ms = self.spool.oldest_ms() if len(self.spool) else None
        head = self._inflight[0] if self._inflight else (self._buffer[0] if self._buffer else None)
        if head is not None:
            ms = uuid7_ms(head.id)
            oldest_ms = ms if oldest_ms is None else min(ms, oldest_ms)
        return replace(
            self._counters,
            backlog=len(self._buffer) + len(self._inflight) + len(self.spool),
            oldest_age_s=None if oldest_ms is None else max(0.0, self._wall() - oldest_ms / 1000),
            bad=self._counters.bad + self.spool.bad,
        )


class MemoryOutbox(BufferedOutbox):
    """The ``Journal`` of the embedded default: memory queue → batches → store, spool on outage."""

    def __init__(
        self,
        *,
        store: JournalStore,
        spool: SpoolFile,
        batch: int = BATCH,
        buffer_limit: int = BUFFER_LIMIT,
        spool_after_s: float = SPOOL_AFTER_S,
        retry_max_s: float = RETRY_MAX_S,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(spool=spool, batch=batch, buffer_limit=buffer_limit, wall=wall)
        self.spool_after_s = spool_after_s
        self._retry = StoreRetry(
            store, counters=self._counters, backoff=Backoff(min_s=RETRY_MIN_S, max_s=retry_max_s)
        )

    # -- the writer task ------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            check_cancelled()
            if len(self.spool):
                await self._forward_spool()
                continue
            if not self._buffer:
                self._wake.clear()
                await self._wake.wait()
                continue
            count = min(self.batch, len(self._buffer))
            self._inflight = [self._buffer.popleft() for _ in range(count)]
            if await self._retry.write(self._inflight, give_up=self._spool_all):
                self._inflight = []

    def _spool_all(self, outage_s: float) -> bool:
        """Past ``spool_after_s``, the batch in hand and the queue go to disk: stop retrying."""
        if outage_s < self.spool_after_s or not self._to_spool([*self._inflight, *self._buffer]):
            return False
        self._inflight = []
        self._buffer.clear()
        return True

    def _spool_queue(self, outage_s: float) -> bool:
        """While spooled entries wait for the store, new ones join them on disk; keep trying."""
        if outage_s >= self.spool_after_s and self._buffer and self._to_spool(list(self._buffer)):
            self._buffer.clear()
        return False

    async def _forward_spool(self) -> None:
        segment = self.spool.oldest()
        if segment is None:
            return
        entries = segment.entries
        for start in range(0, len(entries), self.batch):
            await self._retry.write(entries[start : start + self.batch], give_up=self._spool_queue)
        self.spool.release(segment)
