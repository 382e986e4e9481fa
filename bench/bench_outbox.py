"""Journal outbox: the hot path's append cost, and how fast a backlog drains stream → SQL.

- **append**: ``RedisOutbox.append`` and ``MemoryOutbox.append`` as the dispatcher calls
  them (one decision's few entries at a time), the flusher not running: only the caller's
  cost, in µs per entry.
- **stream**: the flusher's pipelined XADDs, buffer → Redis Stream, entries/s.
- **drain**: a backlog already in the stream (as after a SQL outage) drained by one
  ``OutboxWriter`` (XREADGROUP 1000, write, XACK, XTRIM MINID) into a store that keeps
  nothing (the Redis side alone), into SQLite (WAL file) and into PostgreSQL (asyncpg, a
  schema of its own, dropped afterwards; skipped when ``ACD_BENCH_PG_URL`` does not answer).
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from acd.journal import JournalEntry
from acd.ports import JournalStore
from bench.bench_journal import call_entries
from connectors.memory.outbox import MemoryOutbox
from connectors.redis import keys as k
from connectors.redis.connect import redis_client
from connectors.redis.outbox import OutboxWriter, RedisOutbox
from connectors.spool import SpoolFile
from connectors.sql import SqlJournal
from connectors.sql.engine import journal_url, make_engine

REDIS_URL = os.environ.get("ACD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get("ACD_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
APPENDS = 200_000
PER_DECISION = 3
"""Entries per append call: a decision's call state, decision and agent state."""
BACKLOG = 50_000
ROUNDS = 3


class NullStore:
    """Counts entries and keeps none: the writer's Redis side alone."""

    async def write(self, entries: Sequence[JournalEntry]) -> int:
        return len(entries)


def _append_cost(
    make: Callable[[], RedisOutbox | MemoryOutbox], entries: list[JournalEntry]
) -> float:
    """µs per entry of ``append`` in slices of PER_DECISION, best of ROUNDS, fresh outboxes."""
    slices = [entries[i : i + PER_DECISION] for i in range(0, len(entries), PER_DECISION)]
    best = float("inf")
    for _ in range(ROUNDS):
        append = make().append
        started = time.perf_counter_ns()
        for piece in slices:
            append(piece)
        best = min(best, (time.perf_counter_ns() - started) / len(entries) / 1000)
    return best


async def _appends(client: Redis, directory: Path) -> None:
    entries = call_entries(APPENDS // 6)[:APPENDS]
    spool = SpoolFile(directory / "append.spool", fsync=False)
    redis_cost = _append_cost(
        lambda: RedisOutbox(
            redis=client, namespace="bench", spool=spool, buffer_limit=len(entries)
        ),
        entries,
    )
    memory_cost = _append_cost(
        lambda: MemoryOutbox(store=NullStore(), spool=spool, buffer_limit=len(entries)), entries
    )
    print(f"  append, {PER_DECISION} entries a call ({len(entries):,} entries, best of {ROUNDS}):")
    print(f"    RedisOutbox.append   {redis_cost:6.3f} µs/entry")
    print(f"    MemoryOutbox.append  {memory_cost:6.3f} µs/entry")
    spool.close()


async def _fill(
    client: Redis, namespace: str, entries: list[JournalEntry], directory: Path
) -> None:
    """Stream the entries through a RedisOutbox's flusher, and print its rate."""
    outbox = RedisOutbox(
        redis=client,
        namespace=namespace,
        spool=SpoolFile(directory / f"{namespace}.spool", fsync=False),
        buffer_limit=len(entries),
    )
    outbox.append(entries)
    started = time.perf_counter()
    outbox.start()
    assert await outbox.drain(120.0)
    elapsed = time.perf_counter() - started
    await outbox.close()
    print(f"    stream: {len(entries) / elapsed:>9,.0f} entries/s XADDed (pipelines of 1000)")


async def _drain(name: str, client: Redis, store: JournalStore, directory: Path) -> None:
    namespace = f"bench_{uuid.uuid4().hex[:10]}"
    stream = k.JOURNAL.format(ns=namespace)
    entries = call_entries(BACKLOG // 6 + 1)[:BACKLOG]
    print(f"  {name} ({len(entries):,} entries):")
    try:
        await _fill(client, namespace, entries, directory)
        writer = OutboxWriter(redis=client, namespace=namespace, store=store, consumer="bench")
        started = time.perf_counter()
        await writer.recover()
        done = 0
        while done < len(entries):  # not until an empty read: that one blocks for block_ms
            done += await writer.step()
        elapsed = time.perf_counter() - started
        assert await client.xlen(stream) == 0
        metrics = await writer.metrics()
        print(
            f"    drain:  {len(entries) / elapsed:>9,.0f} entries/s stream → store, acked, trimmed"
        )
        assert metrics.retries == 0
    finally:
        await client.delete(stream, k.JOURNAL_DEAD.format(ns=namespace))


def _reachable(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 1.0):
            return True
    except OSError:
        return False


async def _postgres(client: Redis, directory: Path) -> None:
    if not _reachable(PG_URL):
        print(f"  PostgreSQL at {make_url(PG_URL).host} not reachable: skipped")
        return
    schema = f"acd_bench_{uuid.uuid4().hex[:10]}"
    url = PG_URL.replace("postgresql://", "postgresql+asyncpg://", 1)
    admin = make_engine(journal_url(url))
    async with admin.begin() as conn:
        await conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    journal = SqlJournal.from_url(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        await journal.create_schema()
        await _drain("→ PostgreSQL (asyncpg)", client, journal, directory)
    finally:
        await journal.close()
        async with admin.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


async def _all() -> None:
    client = redis_client(url=REDIS_URL)
    try:
        await client.ping()
    except OSError as err:
        print(f"  Redis at {REDIS_URL} not reachable ({err}): skipped")
        await client.aclose()
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        try:
            await _appends(client, directory)
            await _drain("→ no store (Redis side only)", client, NullStore(), directory)
            journal = SqlJournal.from_url(f"sqlite:///{directory / 'journal.db'}")
            try:
                await journal.create_schema()
                await _drain("→ SQLite (WAL, file)", client, journal, directory)
            finally:
                await journal.close()
            await _postgres(client, directory)
        finally:
            await client.aclose()


def main() -> None:
    """Print the outbox's append cost and its drain rates."""
    print("Journal outbox: RedisOutbox → Redis Stream → OutboxWriter → SqlJournal")
    asyncio.run(_all())


if __name__ == "__main__":
    main()
