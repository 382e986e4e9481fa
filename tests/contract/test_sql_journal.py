"""The SQL journal contract: SQLite, PostgreSQL, and Oracle's MERGE statements, all alike.

Every test of the ``journal`` fixture runs on a SQLite file, on the real PostgreSQL (skipped
outside CI when it is down, failed under CI=true), and on PostgreSQL again writing with the
``MERGE`` statements made for Oracle (PostgreSQL 15 runs ``MERGE``; a ``dual`` view stands
in for Oracle's). Each PostgreSQL run owns a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from acd.core.states import CallState
from acd.journal import EntryKind, JournalEntry
from connectors.sql import JournalUnavailable, SchemaOutdated, SqlJournal
from connectors.sql.engine import journal_url, make_engine
from connectors.sql.rows import entry_row, fold_calls
from connectors.sql.schema import metadata
from tests.services import (
    POSTGRES_DB,
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    postgres_url,
    unique_name,
)
from tests.unit.sql.stories import T0, Ids, call_entry, call_story, delivery, entry

BACKENDS = ["sqlite", "postgresql", "oracle-merge-on-postgresql"]


@dataclass
class Backend:
    """One database to run the contract on, and how to open journals on it."""

    kind: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    merge: bool | None = None

    def journal(self) -> SqlJournal:
        """A new journal (its own pool) on this database."""
        return SqlJournal(make_engine(journal_url(self.url), **self.options), merge=self.merge)


def _admin(sql: str) -> None:
    dsn = f"host={POSTGRES_HOST} port={POSTGRES_PORT} user={POSTGRES_USER} dbname={POSTGRES_DB}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.encode())


@contextlib.contextmanager
def backend_on(kind: str, directory: Path) -> Iterator[Backend]:
    """The database for ``kind``: a SQLite file, or a fresh PostgreSQL schema dropped after."""
    if kind == "sqlite":
        yield Backend(kind, f"sqlite:///{directory / 'journal.db'}")
        return
    driver = "asyncpg" if kind == "postgresql" else "psycopg"  # psycopg counts MERGE's rows
    url = postgres_url(driver)
    schema = unique_name("acd_journal")
    _admin(f"CREATE SCHEMA {schema}")
    try:
        options: dict[str, Any]
        if kind == "postgresql":
            options = {"connect_args": {"server_settings": {"search_path": schema}}}
            yield Backend(kind, url, options)
        else:
            _admin(f"CREATE VIEW {schema}.dual AS SELECT 'X'::varchar(1) AS dummy")
            options = {"connect_args": {"options": f"-csearch_path={schema}"}}
            yield Backend(kind, url, options, merge=True)
    finally:
        _admin(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """An empty database of each kind."""
    with backend_on(request.param, tmp_path) as found:
        yield found


@pytest_asyncio.fixture
async def journal(backend: Backend) -> AsyncIterator[SqlJournal]:
    """A journal on a migrated database of each kind."""
    opened = backend.journal()
    await opened.create_schema()
    yield opened
    await opened.close()


async def table_rows(journal: SqlJournal, table: str) -> list[dict[str, Any]]:
    """Every row of a journal table, as the database holds it."""
    async with journal.engine.connect() as conn:
        result = await conn.execute(sa.select(metadata.tables[table]))
        return [dict(row) for row in result.mappings()]


def one_of_each(ids: Ids) -> list[JournalEntry]:
    """One entry of every kind, with every field the kind has."""
    return [
        call_entry(ids, T0, "c-1", CallState.WAITING, None, arrived_at=T0),
        entry(ids, EntryKind.DECISION, T0 + 1, call="c-1", dept="75", action="offer",
              route="r-1", agent="arm-7501", target="PJSIP/arm-7501", rule="longest-idle",
              reason="longest-idle (idle=31.5)", config_version="2024-06-01.1"),
        entry(ids, EntryKind.AGENT, T0 + 2, agent="arm-7501", state="on-call",
              previous="offered", pause_reason=None, reason="answered"),
        entry(ids, EntryKind.AUDIT, T0 + 3, actor="régulateur-1", role="supervisor",
              action="pause", target="arm-7502", details="{}" * 3000, source="console"),
        entry(ids, EntryKind.CONFIG, T0 + 4, version="2024-06-01.1", path="configs/acd.yaml",
              detail="initial load"),
        entry(ids, EntryKind.CALLBACK, T0 + 5, call="c-1", status="called-back",
              actor="arm-7501", note="rappel effectué"),
    ]  # fmt: skip


# -- idempotency ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_same_batch_twice_keeps_each_entry_once(journal: SqlJournal) -> None:
    """A retried batch writes nothing new: ``write`` returns 0 and every table is unchanged."""
    batch = one_of_each(Ids())
    assert await journal.write(batch) == len(batch)
    assert await journal.write(batch) == 0
    for kind in EntryKind:
        assert await journal.count(kind) == 1, kind


@pytest.mark.asyncio
async def test_overlapping_batches_count_only_new_entries(journal: SqlJournal) -> None:
    """A batch half written before, with an entry repeated inside it, counts the rest only."""
    batch = one_of_each(Ids())
    await journal.write(batch[:3])
    assert await journal.write([*batch, batch[4]]) == 3
    assert await journal.write([]) == 0


@pytest.mark.asyncio
async def test_entries_keep_their_fields_time_and_epoch_exactly(journal: SqlJournal) -> None:
    """Times come back as the same floats, text unclipped when it fits, CLOB details whole."""
    ids = Ids()
    at = 1_712_345_678.123456
    decision = entry(ids, EntryKind.DECISION, at, call="c-9", action="overflow", target="92",
                     reason="r" * 1200, rule="75-entraide")  # fmt: skip
    audit = entry(ids, EntryKind.AUDIT, at, actor="sup", details="é" * 6000, role="")
    await journal.write([decision, audit])
    (stored,) = await table_rows(journal, "acd_decision")
    assert (stored["at_s"], stored["epoch"], stored["call_id"]) == (at, 1, "c-9")
    assert stored["reason"] == "r" * 1000  # clipped to its column, never refused
    (kept,) = await table_rows(journal, "acd_audit")
    assert kept["details"] == "é" * 6000
    assert kept["role"] is None  # '' is stored as NULL everywhere, as Oracle does


# -- call records ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_call_record_follows_the_call_through_its_entries(journal: SqlJournal) -> None:
    """Arrival, a missed offer, an answer, the end: one row with each milestone and outcome."""
    ids = Ids()
    w, o, c = CallState.WAITING, CallState.OFFERED, CallState.CONNECTED
    entries = [
        call_entry(ids, T0, "c-2", w, None, arrived_at=T0 - 1.5),
        call_entry(ids, T0 + 5, "c-2", o, w, arrived_at=T0 - 1.5, agent="arm-1"),
        call_entry(ids, T0 + 25, "c-2", w, o, arrived_at=T0 - 1.5),
        call_entry(ids, T0 + 26, "c-2", o, w, arrived_at=T0 - 1.5, agent="arm-2"),
        call_entry(ids, T0 + 30, "c-2", c, o, arrived_at=T0 - 1.5, agent="arm-2"),
    ]
    await journal.write(entries[:2])
    await journal.write(entries[2:])
    await journal.write([call_entry(ids, T0 + 90, "c-2", CallState.ENDED, c,
                                    arrived_at=T0 - 1.5, agent="arm-2")])  # fmt: skip
    found = await journal.call_record("c-2")
    assert found is not None
    assert found == {
        "call_id": "c-2", "dept": "75", "queue": "75-general", "state": "ended",
        "priority": "normal", "caller": "0601020304", "origin": None, "path": "75",
        "arrived_s": T0 - 1.5, "offered_s": T0 + 5, "answered_s": T0 + 30,
        "ended_s": T0 + 90, "outcome": "ended", "agent": "arm-2",
        "updated_s": T0 + 90, "last_entry": found["last_entry"],
    }  # fmt: skip
    assert await journal.call_record("never-seen") is None


@pytest.fixture(scope="module", params=BACKENDS)
def looped(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[asyncio.Runner, SqlJournal]]:
    """One journal per backend for a whole property test, on a loop of its own."""
    directory = tmp_path_factory.mktemp("journal")
    with backend_on(request.param, directory) as found, asyncio.Runner() as runner:
        opened = found.journal()
        runner.run(opened.create_schema())
        yield runner, opened
        runner.run(opened.close())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_call_record_is_the_same_whatever_the_delivery(
    looped: tuple[asyncio.Runner, SqlJournal], data: st.DataObject
) -> None:
    """Entries shuffled, repeated and cut into batches make the record of the in-order fold."""
    runner, journal = looped
    call = f"c-{uuid.uuid4().hex[:12]}"
    story = data.draw(call_story(call))
    (expected,) = fold_calls(entry_row(e) for e in story).values()
    for batch in delivery(data.draw, story):
        runner.run(journal.write(batch))
    assert runner.run(journal.call_record(call)) == expected.row()


# -- callback worklist -----------------------------------------------------------------------------


def abandoned(
    ids: Ids, call: str, at: float, *, caller: str | None, dept: str = "75"
) -> list[JournalEntry]:
    """A caller who waited from ``at - 60`` and hung up at ``at``."""
    w = CallState.WAITING
    return [
        call_entry(ids, at - 60, call, w, None, arrived_at=at - 60, dept=dept, caller=caller),
        call_entry(ids, at, call, CallState.ABANDONED, w, arrived_at=at - 60, dept=dept),
    ]


@pytest.mark.asyncio
async def test_abandoned_call_lands_on_the_worklist_to_call_back(journal: SqlJournal) -> None:
    """An abandoned call is one row: its caller, when, how long it waited, to call back."""
    ids = Ids()
    await journal.write(abandoned(ids, "c-3", T0 + 100, caller="0611111111"))
    (item,) = await journal.callbacks("75")
    assert item == {
        "call_id": "c-3", "dept": "75", "caller": "0611111111", "abandoned_s": T0 + 100,
        "wait_s": 60.0, "status": "to-call-back", "updated_s": T0 + 100, "updated_by": None,
        "repeats": 1, "first_abandoned_s": T0 + 100, "call_ids": ["c-3"],
    }  # fmt: skip
    assert await journal.callbacks("92") == []


@pytest.mark.asyncio
async def test_callback_status_update_survives_a_replayed_abandon(journal: SqlJournal) -> None:
    """A CALLBACK entry sets status and who; the abandon delivered again does not reset it."""
    ids = Ids()
    story = abandoned(ids, "c-4", T0 + 100, caller="0622222222")
    await journal.write(story)
    await journal.write([entry(ids, EntryKind.CALLBACK, T0 + 400, call="c-4",
                               status="reached", actor="arm-7501", note="rappelé")])  # fmt: skip
    await journal.write(story)
    (item,) = await journal.callbacks()
    assert (item["status"], item["updated_by"], item["updated_s"]) == (
        "reached",
        "arm-7501",
        T0 + 400,
    )


@pytest.mark.asyncio
async def test_worklist_is_right_when_entries_come_backwards(journal: SqlJournal) -> None:
    """The status before the abandon, the abandon before the first entry: same row."""
    ids = Ids()
    first, gone = abandoned(ids, "c-5", T0 + 100, caller="0633333333")
    status = entry(ids, EntryKind.CALLBACK, T0 + 300, call="c-5", status="not-reached", actor="a")
    for batch in ([status], [gone], [first]):
        await journal.write(batch)
    (item,) = await journal.callbacks("75")
    assert (item["caller"], item["wait_s"], item["status"]) == ("0633333333", 60.0, "not-reached")


@pytest.mark.asyncio
async def test_repeated_abandons_from_one_number_are_one_item(journal: SqlJournal) -> None:
    """Three abandons from one number make one item counted three times; others stay apart."""
    ids = Ids()
    batch = [
        *abandoned(ids, "c-6", T0 + 100, caller="0644444444"),
        *abandoned(ids, "c-7", T0 + 200, caller="0655555555"),
        *abandoned(ids, "c-8", T0 + 300, caller="0644444444"),
        *abandoned(ids, "c-9", T0 + 400, caller="0644444444"),
        *abandoned(ids, "c-10", T0 + 500, caller=None),
        *abandoned(ids, "c-11", T0 + 600, caller=None),
        *abandoned(ids, "c-12", T0 + 700, caller="0644444444", dept="92"),
    ]
    await journal.write(batch)
    items = await journal.callbacks("75")
    assert [(i["call_id"], i["repeats"]) for i in items] == [
        ("c-7", 1), ("c-9", 3), ("c-10", 1), ("c-11", 1),
    ]  # fmt: skip
    assert items[1]["call_ids"] == ["c-6", "c-8", "c-9"]
    assert items[1]["first_abandoned_s"] == T0 + 100
    everywhere = await journal.callbacks()
    assert [i["repeats"] for i in everywhere if i["caller"] == "0644444444"] == [4]
    assert [i["call_id"] for i in await journal.callbacks(since_s=T0 + 450)] == [
        "c-10", "c-11", "c-12",
    ]  # fmt: skip


# -- schema ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_database_without_schema_is_refused_with_the_command_to_run(backend: Backend) -> None:
    """No revision: ``SchemaOutdated`` names ``acd db upgrade``; after the upgrade it passes."""
    fresh = backend.journal()
    try:
        with pytest.raises(SchemaOutdated, match="acd db upgrade -c CONFIG"):
            await fresh.check_schema()
        assert await fresh.create_schema() == await fresh.create_schema()
        await fresh.check_schema()
    finally:
        await fresh.close()


@pytest.mark.asyncio
async def test_schema_from_a_newer_version_is_refused(journal: SqlJournal) -> None:
    """A revision this code does not know (a newer acd migrated it) is refused too."""
    async with journal.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(SchemaOutdated, match="newer"):
        await journal.check_schema()


def _differences(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


@pytest.mark.asyncio
async def test_migrated_database_equals_the_declared_schema(journal: SqlJournal) -> None:
    """The migrations build exactly the tables, columns, types and indexes of ``schema``."""
    async with journal.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


# -- failures --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_missing_tables_are_a_bug_not_an_outage(backend: Backend) -> None:
    """Writing before the migrations raises the database's own error, never a retryable one."""
    fresh = backend.journal()
    try:
        with pytest.raises(sa_exc.DBAPIError) as caught:
            await fresh.write(one_of_each(Ids()))
    finally:
        await fresh.close()
    assert not isinstance(caught.value, JournalUnavailable)


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", BACKENDS[1:])
async def test_restarted_database_connection_is_replaced(kind: str, tmp_path: Path) -> None:
    """A pooled connection killed by the server is noticed at checkout; the write goes through."""
    with backend_on(kind, tmp_path) as backend:
        await _write_across_a_restart(backend.journal())


async def _write_across_a_restart(journal: SqlJournal) -> None:
    try:
        await journal.create_schema()
        await journal.write(one_of_each(Ids()))
        async with journal.engine.connect() as conn:  # the pool's one connection
            pid = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
        _admin(f"SELECT pg_terminate_backend({int(pid)})")
        assert await journal.write(one_of_each(Ids())) == 6
        async with journal.engine.connect() as conn:
            assert await conn.scalar(sa.text("SELECT pg_backend_pid()")) != pid  # replaced
    finally:
        await journal.close()


@pytest.mark.asyncio
async def test_two_instances_writing_the_same_batches_keep_each_entry_once(
    backend: Backend, journal: SqlJournal
) -> None:
    """Old and new leader replaying one backlog together: every entry once, counted once."""
    ids = Ids()
    backlog = [e for n in range(40) for e in abandoned(ids, f"c-{n}", T0 + n, caller=None)]
    batches = [backlog[i : i + 16] for i in range(0, len(backlog), 16)]
    other = backend.journal()

    async def replay(writer: SqlJournal, order: list[list[JournalEntry]]) -> int:
        new = 0
        for batch in order:
            while True:
                try:
                    new += await writer.write(batch)
                    break
                except JournalUnavailable:  # a lock wait gave up, or MERGE raced: retry
                    await asyncio.sleep(0.01)
        return new

    try:
        counts = await asyncio.gather(replay(journal, batches), replay(other, batches[::-1]))
    finally:
        await other.close()
    assert sum(counts) == len(backlog)
    assert await journal.count(EntryKind.CALL) == len(backlog)
    assert len(await journal.callbacks()) == 40
