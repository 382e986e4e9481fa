"""Lease latency: renew, standby poll and takeover, p50/p99, on SQLite and PostgreSQL.

Each case times one ``SqlLease`` call at a time on a pool that is already connected, as the
leadership loop makes them: the holder's **renew** (one ``UPDATE ... RETURNING``), a
standby's **poll** of a lease held elsewhere (renew and takeover both match nothing, then a
read), and a **takeover** (a released lease taken with the next epoch and its start
recorded). PostgreSQL runs when ``ACD_BENCH_PG_URL`` (default: the local test database)
answers, each driver in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from connectors.sql import SqlJournal
from connectors.sql.engine import journal_url, make_engine
from connectors.sql.lease import SqlLease

PG_URL = os.environ.get("ACD_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
RENEWS = 3000
POLLS = 1000
TAKEOVERS = 500
TTL_S = 30.0


async def _timed(calls: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    """Milliseconds per call, after a few warm-up calls."""
    for _ in range(20):
        await call()
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _line(name: str, what: str, ms: list[float]) -> None:
    ms.sort()
    p50, p99 = statistics.median(ms), ms[int(len(ms) * 0.99) - 1]
    print(
        f"  {name:<22} {what:<12} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
        f"({len(ms):,} calls, {1000 / statistics.fmean(ms):,.0f}/s)",
        flush=True,
    )


async def _case(name: str, journal: SqlJournal) -> None:
    await journal.create_schema()
    lease = SqlLease.of(journal)
    assert (await lease.try_acquire("acd-a", TTL_S)).held

    async def renew() -> None:
        assert (await lease.try_acquire("acd-a", TTL_S)).held

    async def poll() -> None:
        assert not (await lease.try_acquire("acd-b", TTL_S)).held

    holders = ["acd-a", "acd-b"]

    async def take_over() -> None:
        # Release then take, alternating holders: every acquire is a change of epoch.
        await lease.release(holders[0])
        holders.reverse()
        assert (await lease.try_acquire(holders[0], TTL_S)).held

    _line(name, "renew", await _timed(RENEWS, renew))
    _line(name, "poll", await _timed(POLLS, poll))
    takeovers = await _timed(TAKEOVERS, take_over)
    _line(name, "release+take", takeovers)
    epochs = len(await lease.history())
    assert epochs == TAKEOVERS + 21, epochs  # the first, the warm-up's 20, the timed ones


def _reachable(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 1.0):
            return True
    except OSError:
        return False


async def _postgres(driver: str) -> None:
    schema = f"acd_bench_{uuid.uuid4().hex[:10]}"
    url = PG_URL.replace("postgresql://", f"postgresql+{driver}://", 1)
    admin = make_engine(journal_url(url))
    async with admin.begin() as conn:
        await conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    path = (
        {"server_settings": {"search_path": schema}}
        if driver == "asyncpg"
        else {"options": f"-csearch_path={schema}"}
    )
    journal = SqlJournal.from_url(url, connect_args=path)
    try:
        await _case(f"PostgreSQL ({driver})", journal)
    finally:
        await journal.close()
        async with admin.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


async def _sqlite() -> None:
    with tempfile.TemporaryDirectory() as directory:
        journal = SqlJournal.from_url(f"sqlite:///{Path(directory) / 'journal.db'}")
        try:
            await _case("SQLite (WAL, file)", journal)
        finally:
            await journal.close()


async def _all() -> None:
    await _sqlite()
    if not _reachable(PG_URL):
        print(f"  PostgreSQL at {make_url(PG_URL).host} not reachable: skipped")
        return
    for driver in ("asyncpg", "psycopg"):
        await _postgres(driver)


def main() -> None:
    """Print the lease's call latencies per database."""
    print("SqlLease: one call at a time, one transaction each, pool connected, TTL 30 s")
    asyncio.run(_all())


if __name__ == "__main__":
    main()
