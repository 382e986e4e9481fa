"""Journal throughput: entries/s written into SQLite and PostgreSQL by batches of 100 and 1000.

Each case writes the entries of whole calls (call states, decisions, agent states, one
abandon in ten) through ``SqlJournal.write``, one transaction per batch, call records and
worklist merged as in production; then writes the same batches again (an outbox replay,
all duplicates). PostgreSQL runs when ``ACD_BENCH_PG_URL`` (default: the local test
database) answers, each run in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from acd.journal import EntryKind, JournalEntry, Uuid7Source
from connectors.sql import SqlJournal
from connectors.sql.engine import journal_url, make_engine

PG_URL = os.environ.get("ACD_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BATCHES = (100, 1000)
CASE_S = 2.0
"""Seconds of writing per case (at least one full pass of the entries is written)."""
T0 = 1_700_000_000.0


def call_entries(calls: int) -> list[JournalEntry]:
    """The entries of ``calls`` whole calls, in the order the engine makes them."""
    new_id = Uuid7Source()
    out: list[JournalEntry] = []

    def add(kind: EntryKind, at: float, **fields: Any) -> None:
        out.append(JournalEntry(id=new_id(), kind=kind, at=at, epoch=1, fields=fields))

    for n in range(calls):
        call, agent, at = f"1700000000.{n}", f"arm-{n % 50}", T0 + n * 0.5
        base = {"call": call, "dept": "75", "queue": "75-general", "arrived_at": at}
        add(EntryKind.CALL, at, **base, state="waiting", priority="normal",
            caller=f"06{n % 5000:08d}", path="75", reason="arrival")  # fmt: skip
        if n % 10 == 0:
            add(EntryKind.CALL, at + 30, **base, state="abandoned", previous="waiting",
                reason="caller hung up")  # fmt: skip
            continue
        add(EntryKind.DECISION, at + 1, call=call, dept="75", action="offer", route=f"r{n}",
            agent=agent, rule="longest-idle", reason="longest-idle (idle=42.0)",
            config_version="v1")  # fmt: skip
        add(EntryKind.CALL, at + 1, **base, state="offered", previous="waiting", agent=agent,
            reason="longest-idle")  # fmt: skip
        add(EntryKind.AGENT, at + 1, agent=agent, state="offered", previous="available")
        add(EntryKind.CALL, at + 6, **base, state="connected", previous="offered", agent=agent,
            reason="answered")  # fmt: skip
        add(EntryKind.AGENT, at + 6, agent=agent, state="on-call", previous="offered")
        add(EntryKind.CALL, at + 90, **base, state="ended", previous="connected", agent=agent,
            reason="hangup")  # fmt: skip
    return out


async def _rate(journal: SqlJournal, batches: list[list[JournalEntry]]) -> tuple[float, int]:
    """Entries per second over the batches, and how many were new."""
    started, new, written = time.perf_counter(), 0, 0
    for batch in batches:
        new += await journal.write(batch)
        written += len(batch)
    return written / (time.perf_counter() - started), new


async def _case(name: str, journal: SqlJournal, size: int) -> None:
    await journal.create_schema()
    # A short probe sizes the run to about CASE_S seconds of writing.
    probe = call_entries(300)
    rate, _ = await _rate(journal, [probe[i : i + size] for i in range(0, len(probe), size)])
    entries = call_entries(max(300, int(rate * CASE_S / 6.3)))
    entries = [e for e in entries if e.at > T0 + 300 * 0.5]  # not the probe's calls
    batches = [entries[i : i + size] for i in range(0, len(entries), size)]
    first, new = await _rate(journal, batches)
    again, repeat = await _rate(journal, batches)
    assert (new, repeat) == (len(entries), 0), (new, repeat)
    print(
        f"  {name:<28} batch {size:>5}: {first:>9,.0f} entries/s new, "
        f"{again:>9,.0f} entries/s replayed ({len(entries):,} entries)",
        flush=True,
    )


def _reachable(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 1.0):
            return True
    except OSError:
        return False


async def _postgres(driver: str, size: int) -> None:
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
        await _case(f"PostgreSQL ({driver})", journal, size)
    finally:
        await journal.close()
        async with admin.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


async def _sqlite(size: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        journal = SqlJournal.from_url(f"sqlite:///{Path(directory) / 'journal.db'}")
        try:
            await _case("SQLite (WAL, file)", journal, size)
        finally:
            await journal.close()


async def _all() -> None:
    for size in BATCHES:
        await _sqlite(size)
    if not _reachable(PG_URL):
        print(f"  PostgreSQL at {make_url(PG_URL).host} not reachable: skipped")
        return
    for driver in ("asyncpg", "psycopg"):
        for size in BATCHES:
            await _postgres(driver, size)


def main() -> None:
    """Print the journal's write throughput per database and batch size."""
    print(
        "SqlJournal.write, one transaction per batch: entries + call records + worklist; "
        "~6.3 entries per call, 1 call in 10 abandoned"
    )
    asyncio.run(_all())


if __name__ == "__main__":
    main()
