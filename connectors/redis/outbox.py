"""Redis journal outbox: every entry reaches SQL at least once; the store keeps one row per id.

``RedisOutbox`` (the ``Journal`` port): ``append`` buffers in memory and returns; a flusher
task XADDs the buffer to the stream ``acd:{ns}:journal`` in pipelined batches (field ``e``).
When Redis fails, the batch in hand and the buffer go to the local ``SpoolFile`` (at most
every ``SPOOL_LINGER_S``: one fsync per tick, not per entry), and a full buffer overflows
there at once; when Redis answers again the spool is replayed into the stream before
anything newer, then released.

``OutboxWriter``: one consumer of the group ``journal-writers``. At start (and after any
Redis failure) it re-reads its own pending entries, then claims those a dead writer left
idle, so a writer killed between the SQL insert and the XACK gets them delivered again.
Then: XREADGROUP a batch → decode (an unreadable entry is acknowledged into the dead-letter
stream) → ``store.write`` (retried with backoff while SQL is down; the batch stays pending)
→ XACK → XTRIM MINID up to the oldest entry not yet acknowledged. Never MAXLEN: that would
drop entries SQL has not seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from redis import exceptions as rex
from redis.asyncio import Redis

from acd.journal import JournalEntry, JournalEntryError, uuid7_ms
from acd.ports import JournalStore
from connectors.asterisk.backoff import Backoff
from connectors.memory.outbox import (
    BATCH,
    BUFFER_LIMIT,
    RETRY_MAX_S,
    RETRY_MIN_S,
    BufferedOutbox,
    OutboxMetrics,
    StoreRetry,
    check_cancelled,
)
from connectors.redis import keys as k
from connectors.spool import Segment, SpoolFile

log = logging.getLogger(__name__)

FIELD = b"e"
SPOOL_LINGER_S = 0.1
"""While Redis is down, the buffer goes to disk at most this often."""
BLOCK_MS = 1000
"""How long XREADGROUP waits for new entries; below the client's socket timeout."""
CLAIM_IDLE_MS = 60_000
"""A pending entry idle this long belongs to a writer presumed dead: another claims it."""
REDIS_DOWN: tuple[type[BaseException], ...] = (rex.RedisError, OSError)

Item = tuple[bytes, dict[bytes, bytes] | None]


def _keys(namespace: str) -> tuple[str, str]:
    k.Keyspace(namespace)  # checks the namespace
    return k.JOURNAL.format(ns=namespace), k.JOURNAL_DEAD.format(ns=namespace)


class RedisOutbox(BufferedOutbox):
    """The ``Journal`` port: memory buffer → Redis Stream, local spool while Redis is down."""

    task_name = "journal-outbox-flusher"

    def __init__(
        self,
        *,
        redis: Redis,
        namespace: str,
        spool: SpoolFile,
        batch: int = BATCH,
        buffer_limit: int = BUFFER_LIMIT,
        retry_max_s: float = RETRY_MAX_S,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(spool=spool, batch=batch, buffer_limit=buffer_limit, wall=wall)
        self.redis = redis
        self.stream, _dead = _keys(namespace)
        self.backoff = Backoff(min_s=RETRY_MIN_S, max_s=retry_max_s)
        self.streamed = 0
        """Entries XADDed to the stream (a spool replay may add some twice)."""
        self._down_until = 0.0
        self._replaying: Segment | None = None
        self._replayed = 0

    # -- the flusher task -------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            check_cancelled()
            wait_s = self._down_until - time.monotonic()
            if wait_s > 0:
                await self._while_down(wait_s)
                continue
            try:
                if len(self.spool):
                    await self._replay_spool()
                elif self._buffer:
                    take = min(self.batch, len(self._buffer))
                    self._inflight = [self._buffer.popleft() for _ in range(take)]
                    await self._xadd(self._inflight)
                    self._inflight = []
                else:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
            except REDIS_DOWN as err:
                self._on_redis_failure(err)
                continue
            self.backoff.reset()

    def _on_redis_failure(self, err: BaseException) -> None:
        delay = self.backoff.next_delay()
        if self.backoff.attempt <= 3 or self.backoff.attempt % 20 == 0:
            log.warning("journal stream unavailable, spooling (retry in %.2f s): %s", delay, err)
        self._down_until = time.monotonic() + delay
        if self._to_spool([*self._inflight, *self._buffer]):
            self._inflight = []
            self._buffer.clear()

    async def _while_down(self, wait_s: float) -> None:
        if self._buffer and self._to_spool(list(self._buffer)):
            self._buffer.clear()
        await asyncio.sleep(min(wait_s, SPOOL_LINGER_S))

    async def _replay_spool(self) -> None:
        # The segment in hand and how far it got are kept across failures: a flapping Redis
        # neither re-reads the file at every attempt nor re-sends what already went.
        if self._replaying is None:
            self._replaying = self.spool.oldest()
            self._replayed = 0
        segment = self._replaying
        if segment is None:
            return
        while self._replayed < len(segment.entries):
            await self._xadd(segment.entries[self._replayed : self._replayed + self.batch])
            self._replayed += self.batch
        self.spool.release(segment)
        self._replaying = None
        log.info("journal spool: %d entries replayed into the stream", len(segment.entries))

    async def _xadd(self, entries: Sequence[JournalEntry]) -> None:
        # A pipeline without MULTI: if the link drops half-way, the whole batch is spooled and
        # some entries reach the stream twice; the store keeps one row per id.
        pipe = self.redis.pipeline(transaction=False)
        for entry in entries:
            pipe.execute_command("XADD", self.stream, "*", FIELD, entry.encode())
        await pipe.execute()
        self.streamed += len(entries)


def _items(reply: Any) -> list[Item]:
    """The entries of an XREADGROUP reply for one stream, RESP2 or RESP3."""
    if not reply:
        return []
    # RESP2: [[stream, [(id, fields), ...]]]; RESP3: {stream: [[(id, fields), ...]]}.
    items: list[Item] = next(iter(reply.values()))[0] if isinstance(reply, dict) else reply[0][1]
    return items


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _after(stream_id: bytes | str) -> str:
    """The smallest stream id greater than ``stream_id``."""
    ms, _, seq = _text(stream_id).partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


class OutboxWriter:
    """One consumer of the journal stream's group: stream → ``JournalStore``, then XACK.

    ``consumer`` names this writer in the group; a stable name (per host) lets a restarted
    writer find its own pending entries at once. ``after_write`` exists for fault tests only.
    """

    def __init__(
        self,
        *,
        redis: Redis,
        namespace: str,
        store: JournalStore,
        consumer: str,
        batch: int = BATCH,
        block_ms: int = BLOCK_MS,
        claim_idle_ms: int = CLAIM_IDLE_MS,
        retry_max_s: float = RETRY_MAX_S,
        wall: Callable[[], float] = time.time,
        after_write: Callable[[Sequence[JournalEntry]], None] | None = None,
    ) -> None:
        self.redis = redis
        self.stream, self.dead = _keys(namespace)
        self.group = k.JOURNAL_GROUP
        self.consumer = consumer
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.backoff = Backoff(min_s=RETRY_MIN_S, max_s=retry_max_s)
        self._wall = wall
        self._counters = OutboxMetrics()
        store_backoff = Backoff(min_s=RETRY_MIN_S, max_s=retry_max_s)
        self._retry = StoreRetry(store, counters=self._counters, backoff=store_backoff)
        self._stopping = False
        self._after_write = after_write
        """For fault tests only: runs between the store's commit and the XACK."""

    async def run(self) -> None:
        """Drain the stream until cancelled or ``stop()``; Redis failures are waited out."""
        recover = True
        claimed_at = time.monotonic()
        while not self._stopping:
            check_cancelled()
            try:
                if recover or time.monotonic() - claimed_at > self.claim_idle_ms / 2000:
                    await self.recover()
                    recover, claimed_at = False, time.monotonic()
                await self.step()
            except REDIS_DOWN as err:
                recover = True
                delay = self.backoff.next_delay()
                log.warning("journal writer: Redis failed (retry in %.2f s): %s", delay, err)
                await asyncio.sleep(delay)
                continue
            self.backoff.reset()

    def stop(self) -> None:
        """Finish the batch in hand (or give up retrying it: it stays pending) and return."""
        self._stopping = True

    async def recover(self) -> None:
        """Make the group if needed, then process our own pending entries and claim idle ones."""
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except rex.ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise
        start = "0"
        while not self._stopping:
            reply = await self.redis.xreadgroup(
                self.group, self.consumer, {self.stream: start}, count=self.batch
            )
            items = _items(reply)
            if not items or not await self._process(items):
                break
            start = items[-1][0].decode()
        cursor: bytes | str = "0-0"
        while not self._stopping:
            cursor, items, *_deleted = await self.redis.xautoclaim(
                self.stream, self.group, self.consumer, self.claim_idle_ms, cursor, self.batch
            )
            if items and not await self._process(items):
                break
            if cursor in (b"0-0", "0-0"):
                break

    async def step(self) -> int:
        """Read up to one batch of new entries (waiting up to ``block_ms``) and store them."""
        reply = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.batch, block=self.block_ms
        )
        items = _items(reply)
        if items:
            await self._process(items)
        return len(items)

    async def _process(self, items: list[Item]) -> bool:
        """Store, acknowledge and trim one batch; ``False`` if stopped while SQL was down."""
        good: list[JournalEntry] = []
        dead: list[tuple[bytes, bytes, str]] = []
        for stream_id, fields in items:
            if fields is None:  # deleted while pending: nothing left to store
                continue
            raw = fields.get(FIELD, b"")
            try:
                good.append(JournalEntry.decode(raw))
            except JournalEntryError as err:
                dead.append((stream_id, raw, str(err)))
        if good and not await self._retry.write(good, give_up=lambda _s: self._stopping):
            return False
        if self._after_write is not None:
            self._after_write(good)
        pipe = self.redis.pipeline(transaction=True)
        for stream_id, raw, why in dead:
            log.error("journal stream entry %s set aside in %s: %s", stream_id, self.dead, why)
            pipe.xadd(self.dead, {"id": stream_id, "e": raw, "why": why})
        pipe.xack(self.stream, self.group, *[stream_id for stream_id, _f in items])
        await pipe.execute()
        self._counters.bad += len(dead)
        await self.trim()
        return True

    async def trim(self) -> None:
        """XTRIM MINID to the oldest entry pending or unread: only acknowledged ones go."""
        pipe = self.redis.pipeline(transaction=True)  # one snapshot of both
        pipe.xinfo_groups(self.stream)
        pipe.xpending(self.stream, self.group)
        groups, pending = await pipe.execute()
        last = next(g["last-delivered-id"] for g in groups if _text(g["name"]) == self.group)
        minid = pending["min"] if pending["pending"] else _after(last)
        await self.redis.xtrim(self.stream, minid=minid, approximate=False)

    async def metrics(self) -> OutboxMetrics:
        """Backlog (entries in the stream not yet trimmed) and the age of the oldest one."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.xlen(self.stream)
        pipe.xrange(self.stream, "-", "+", count=1)
        backlog, first = await pipe.execute()
        oldest_s: float | None = None
        if first:
            stream_id, fields = first[0]
            # The entry's birth (UUIDv7); for an unreadable one, when it reached the stream.
            oldest_s = int(_text(stream_id).partition("-")[0]) / 1000
            with contextlib.suppress(JournalEntryError):
                oldest_s = uuid7_ms(JournalEntry.decode((fields or {}).get(FIELD, b"")).id) / 1000
        return OutboxMetrics(
            backlog=backlog,
            oldest_age_s=None if oldest_s is None else max(0.0, self._wall() - oldest_s),
            written=self._counters.written,
            retries=self._counters.retries,
            bad=self._counters.bad,
        )
