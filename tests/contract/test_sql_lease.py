"""The leadership lease in SQL and the journal's fence, on SQLite and on the real PostgreSQL.

Lease tests run on a SQLite file and on PostgreSQL (asyncpg, a schema of its own); fencing
tests run on every backend of the journal contract, Oracle's ``MERGE`` statements included.
Oracle itself is absent: every lease statement is compiled for it and checked against its
limits. TTLs are short (0.3 s) so that expiry is real, measured by the database's clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from alembic import command
from sqlalchemy.dialects import mysql, oracle
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.core.states import CallState
from acd.journal import EntryKind, JournalEntry
from acd.ports import LeaseGrant
from connectors.sql import SchemaOutdated, SqlJournal, migrate
from connectors.sql.engine import journal_url, make_engine
from connectors.sql.lease import STATEMENTS, LeaseUnavailable, SqlLease
from connectors.sql.schema import MAX_IDENTIFIER
from connectors.sql.store import stale_entries
from tests.contract.test_sql_journal import BACKENDS, Backend, backend_on, table_rows
from tests.unit.sql.stories import T0, Ids, call_entry

TTL = 0.3
LAPSE = TTL + 0.15
"""Long enough for a ``TTL`` lease to expire by the database's clock."""


@pytest.fixture(params=BACKENDS[:2])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """An empty SQLite file, or a fresh PostgreSQL schema."""
    with backend_on(request.param, tmp_path) as found:
        yield found


@pytest_asyncio.fixture
async def journal(place: Backend) -> AsyncIterator[SqlJournal]:
    """A journal on a migrated database, whose pool the leases share."""
    opened = place.journal()
    await opened.create_schema()
    yield opened
    await opened.close()


@pytest_asyncio.fixture
async def lease(journal: SqlJournal) -> SqlLease:
    """The ``acd`` lease on the journal's pool."""
    return SqlLease.of(journal)


def engines(place: Backend, count: int) -> list[AsyncEngine]:
    """Engines of their own, as separate instances would have."""
    return [make_engine(journal_url(place.url), **place.options) for _ in range(count)]


# -- acquiring, renewing, expiring -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_first_holder_gets_epoch_one_and_the_audit_records_it(lease: SqlLease) -> None:
    """On a new database the first asker holds epoch 1; the epoch's start is recorded."""
    grant = await lease.try_acquire("acd-a", 30)
    assert (grant.held, grant.holder, grant.epoch, grant.expires_in_s) == (True, "acd-a", 1, 30)
    (first,) = await lease.history()
    assert (first.epoch, first.holder) == (1, "acd-a")
    assert abs(first.started_s - grant.db_now_s) < 0.1


@pytest.mark.asyncio
async def test_renewal_keeps_the_epoch_and_pushes_the_expiry(lease: SqlLease) -> None:
    """The holder renewing gets the same epoch, a later clock, and no new epoch record."""
    first = await lease.try_acquire("acd-a", 1.0)
    await asyncio.sleep(0.6)
    again = await lease.try_acquire("acd-a", 1.0)
    assert (again.held, again.epoch) == (True, first.epoch)
    assert again.db_now_s - first.db_now_s >= 0.55
    await asyncio.sleep(0.6)  # past the first grant's expiry, not the renewal's
    assert (await lease.try_acquire("acd-b", 1.0)).held is False
    assert len(await lease.history()) == 1


@pytest.mark.asyncio
async def test_standby_cannot_take_an_unexpired_lease(lease: SqlLease) -> None:
    """Another holder is told who leads, in which epoch, and for how long still."""
    await lease.try_acquire("acd-a", 30)
    seen = await lease.try_acquire("acd-b", 30)
    assert (seen.held, seen.holder, seen.epoch) == (False, "acd-a", 1)
    assert 29 < seen.expires_in_s <= 30


@pytest.mark.asyncio
async def test_expired_lease_goes_to_the_standby_and_the_old_holder_is_refused(
    lease: SqlLease,
) -> None:
    """After the TTL the standby takes epoch 2; the old holder's renew finds it held."""
    await lease.try_acquire("acd-a", TTL)
    await asyncio.sleep(LAPSE)
    taken = await lease.try_acquire("acd-b", 30)
    assert (taken.held, taken.holder, taken.epoch) == (True, "acd-b", 2)
    late = await lease.try_acquire("acd-a", TTL)
    assert (late.held, late.holder, late.epoch) == (False, "acd-b", 2)
    assert [(e.epoch, e.holder) for e in await lease.history()] == [(1, "acd-a"), (2, "acd-b")]


@pytest.mark.asyncio
async def test_holder_whose_lease_lapsed_starts_a_new_epoch(lease: SqlLease) -> None:
    """Renewing too late, even with nobody in between, is a takeover: epoch + 1."""
    await lease.try_acquire("acd-a", TTL)
    await asyncio.sleep(LAPSE)
    again = await lease.try_acquire("acd-a", TTL)
    assert (again.held, again.epoch) == (True, 2)


@pytest.mark.asyncio
async def test_released_lease_is_taken_at_once_by_a_standby(lease: SqlLease) -> None:
    """A clean stop expires the lease now; a release by anyone else changes nothing."""
    await lease.try_acquire("acd-a", 30)
    await lease.release("acd-b")
    assert (await lease.try_acquire("acd-b", 30)).held is False
    await lease.release("acd-a")
    taken = await lease.try_acquire("acd-b", 30)
    assert (taken.held, taken.epoch) == (True, 2)
    await lease.release("acd-a")  # no longer its own: a late release is harmless
    assert (await lease.try_acquire("acd-b", 30)).epoch == 2


@pytest.mark.asyncio
async def test_departments_leases_are_independent(journal: SqlJournal) -> None:
    """Two lease names: two holders, each at epoch 1, each with its own history."""
    north, south = SqlLease(journal, name="dept-59"), SqlLease(journal, name="dept-13")
    assert (await north.try_acquire("acd-a", 30)).epoch == 1
    assert (await south.try_acquire("acd-b", 30)).epoch == 1
    assert (await north.try_acquire("acd-b", 30)).holder == "acd-a"
    assert [e.holder for e in await south.history()] == ["acd-b"]


@pytest.mark.asyncio
async def test_epochs_never_go_back_when_the_lease_row_is_deleted(
    journal: SqlJournal, lease: SqlLease
) -> None:
    """A lease row deleted by hand comes back with the epoch after the highest recorded."""
    await lease.try_acquire("acd-a", TTL)
    await asyncio.sleep(LAPSE)
    await lease.try_acquire("acd-b", TTL)
    async with journal.engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM acd_lease"))
    assert (await lease.try_acquire("acd-c", TTL)).epoch == 3


# -- races -----------------------------------------------------------------------------------------


async def race(place: Backend, after_s: float = 0.0) -> list[LeaseGrant]:
    """Ten instances on three pools asking at once (after ``after_s``): their grants."""
    pools = engines(place, 3)
    leases = [SqlLease(pools[n % 3]) for n in range(10)]
    try:
        for pool in pools:  # connected beforehand, so the askers start together
            async with pool.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        await asyncio.sleep(after_s)
        return list(
            await asyncio.gather(*(x.try_acquire(f"acd-{n}", 30) for n, x in enumerate(leases)))
        )
    finally:
        for pool in pools:
            await pool.dispose()


@pytest.mark.asyncio
async def test_instances_racing_for_a_new_lease_elect_exactly_one(
    place: Backend, journal: SqlJournal
) -> None:
    """Ten first acquirers at once: one holds epoch 1, nine are told it is that one's."""
    grants = await race(place)
    winners = [g for g in grants if g.held]
    assert len(winners) == 1
    assert {(g.holder, g.epoch) for g in grants} == {(winners[0].holder, 1)}


@pytest.mark.asyncio
async def test_instances_racing_for_an_expired_lease_elect_exactly_one(
    place: Backend, lease: SqlLease
) -> None:
    """Ten standbys at the same expiry: one takes epoch 2, and it alone is recorded."""
    await lease.try_acquire("acd-old", TTL)
    grants = await race(place, after_s=LAPSE)
    winners = [g for g in grants if g.held]
    assert len(winners) == 1
    assert {(g.holder, g.epoch) for g in grants} == {(winners[0].holder, 2)}
    assert [e.epoch for e in await lease.history()] == [1, 2]


# -- whose clock -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_expiry_follows_the_database_clock_not_the_hosts(
    lease: SqlLease, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host clock an hour off neither ends a lease early nor keeps an expired one."""
    real = time.time()
    monkeypatch.setattr(time, "time", lambda: real + 3600)
    grant = await lease.try_acquire("acd-a", 30)
    assert abs(grant.db_now_s - real) < 5
    assert (await lease.try_acquire("acd-b", 30)).held is False
    await lease.release("acd-a")
    monkeypatch.setattr(time, "time", lambda: real - 3600)
    await lease.try_acquire("acd-b", TTL)
    await asyncio.sleep(LAPSE)
    assert (await lease.try_acquire("acd-c", TTL)).held is True
    assert abs(await lease.db_now_s() - real) < 5


# -- failures --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_unreachable_database_means_not_renewed() -> None:
    """Nothing listening: ``LeaseUnavailable``, the slug the leadership loop expects."""
    engine = make_engine(journal_url("postgresql://acd@127.0.0.1:1/acd"))
    try:
        with pytest.raises(LeaseUnavailable) as caught:
            await SqlLease(engine).try_acquire("acd-a", 3)
    finally:
        await engine.dispose()
    assert caught.value.slug == "lease-unavailable"


@pytest.mark.asyncio
async def test_nameless_holder_and_endless_ttl_are_refused(lease: SqlLease) -> None:
    """An empty holder (NULL on Oracle) and a TTL that is not positive are mistakes."""
    with pytest.raises(ValueError, match="name"):
        await lease.try_acquire("", 3)
    with pytest.raises(ValueError, match="positive"):
        await lease.try_acquire("acd-a", 0)


# -- journal fencing -------------------------------------------------------------------------------


@pytest_asyncio.fixture(params=BACKENDS)
async def fenced(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[SqlJournal, float]]:
    """A journal whose lease went from acd-a (epoch 1) to acd-b (epoch 2), and that start."""
    with backend_on(request.param, tmp_path) as place:
        opened = place.journal()
        await opened.create_schema()
        lease = SqlLease.of(opened)
        await lease.try_acquire("acd-a", TTL)
        await asyncio.sleep(LAPSE)
        assert (await lease.try_acquire("acd-b", 30)).epoch == 2
        takeover = (await lease.history())[-1].started_s
        yield opened, takeover
        await opened.close()


def made(ids: Ids, at: float, call: str, *, epoch: int = 1) -> JournalEntry:
    """A caller's arrival recorded by the leader of ``epoch`` at ``at``."""
    waiting = call_entry(ids, at, call, CallState.WAITING, None, arrived_at=at)
    return dataclasses.replace(waiting, epoch=epoch)


@pytest.mark.asyncio
async def test_old_leaders_backlog_made_before_the_takeover_is_written(
    fenced: tuple[SqlJournal, float],
) -> None:
    """Entries of epoch 1 made before epoch 2 began (or within the tolerance) all land."""
    journal, takeover = fenced
    ids = Ids()
    backlog = [made(ids, takeover + dt, f"c-{n}") for n, dt in enumerate((-60, -0.5, 0.9))]
    assert await journal.write(backlog) == 3
    assert await journal.count(EntryKind.CALL) == 3
    assert journal.fenced == 0
    assert await table_rows(journal, "acd_fenced_entry") == []


@pytest.mark.asyncio
async def test_entries_of_a_deposed_leader_are_fenced_aside(
    fenced: tuple[SqlJournal, float], caplog: pytest.LogCaptureFixture
) -> None:
    """Epoch 1 made after epoch 2 began: kept aside whole, not journaled, counted, logged."""
    journal, takeover = fenced
    ids = Ids()
    late = made(ids, takeover + 5, "c-late")
    current = made(ids, takeover + 5, "c-now", epoch=2)
    with caplog.at_level(logging.ERROR, logger="connectors.sql.store"):
        assert await journal.write([late, current]) == 1
    assert await journal.call_record("c-late") is None
    assert await journal.call_record("c-now") is not None
    (aside,) = await table_rows(journal, "acd_fenced_entry")
    assert (aside["id"], aside["kind"], aside["epoch"]) == (late.id, "call", 1)
    assert (aside["at_s"], aside["newer_epoch"]) == (late.at, 2)
    assert JournalEntry.decode(aside["body"]) == late
    assert journal.fenced == 1
    assert "epoch 2 of lease 'acd'" in caplog.text


@pytest.mark.asyncio
async def test_fenced_batch_delivered_again_is_set_aside_once(
    fenced: tuple[SqlJournal, float],
) -> None:
    """The outbox redelivering a stale batch: one row each, counted once, still no error."""
    journal, takeover = fenced
    ids = Ids()
    batch = [made(ids, takeover + 2 + n, f"c-{n}") for n in range(3)]
    assert await journal.write([*batch, batch[0]]) == 0
    assert await journal.write(batch) == 0
    assert len(await table_rows(journal, "acd_fenced_entry")) == 3
    assert journal.fenced == 3
    assert await journal.count(EntryKind.CALL) == 0


@pytest.mark.asyncio
async def test_another_leases_epochs_fence_nothing(fenced: tuple[SqlJournal, float]) -> None:
    """A journal fenced by another lease name writes epoch-1 entries of any time."""
    journal, takeover = fenced
    other = SqlJournal(journal.engine, lease_name="dept-13")
    assert await other.write([made(Ids(), takeover + 60, "c-13")]) == 1


@pytest.mark.asyncio
async def test_entries_of_an_instance_without_the_lease_are_never_fenced(
    fenced: tuple[SqlJournal, float],
) -> None:
    """Epoch 0 (a standby loading its configuration) is written whenever it was made."""
    journal, takeover = fenced
    assert await journal.write([made(Ids(), takeover + 60, "c-0", epoch=0)]) == 1
    assert journal.fenced == 0


def test_earliest_newer_epoch_decides_even_after_the_clock_went_back() -> None:
    """Epoch 3 recorded as starting before epoch 2 (a clock set back) fences from its start."""
    ids = Ids()
    starts = [(2, T0 + 100), (3, T0 + 50)]
    entries = [
        made(ids, T0 + 40, "c-1"),
        made(ids, T0 + 60, "c-2"),
        made(ids, T0 + 60, "c-3", epoch=3),
        made(ids, T0 + 60, "c-4", epoch=0),
    ]
    assert stale_entries(entries, starts, tolerance_s=1.0) == {entries[1].id: 3}
    assert stale_entries(entries, [], tolerance_s=1.0) == {}


# -- schema ----------------------------------------------------------------------------------------


def _downgrade_to_0001(conn: Connection) -> None:
    command.downgrade(migrate.alembic_config(conn), "0001")


@pytest.mark.asyncio
async def test_upgrade_from_0001_keeps_the_journal_and_adds_the_lease(place: Backend) -> None:
    """A 0001 database is refused, upgraded to 0002 with its entries, and leads at once."""
    journal = place.journal()
    try:
        async with journal.engine.begin() as conn:
            await conn.run_sync(migrate.upgrade, "0001")
            await conn.execute(
                sa.text("INSERT INTO acd_call_event (id, at_s, epoch) VALUES (:i, :a, 0)"),
                {"i": "0" * 36, "a": T0},
            )
        with pytest.raises(SchemaOutdated, match="0001, older than the required 0002"):
            await journal.check_schema()
        assert await journal.create_schema() == "0002"
        await journal.check_schema()
        assert await journal.count(EntryKind.CALL) == 1
        assert (await SqlLease.of(journal).try_acquire("acd-a", 3)).epoch == 1
        async with journal.engine.begin() as conn:
            await conn.run_sync(_downgrade_to_0001)
        assert await journal.revision() == "0001"
        assert await journal.count(EntryKind.CALL) == 1
    finally:
        await journal.close()


ORACLE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$#]*")


@pytest.mark.parametrize("role", sorted(STATEMENTS))
def test_every_lease_statement_compiles_for_oracle_within_its_limits(role: str) -> None:
    """Names and binds within 30 characters, the UTC clock, no ``LIMIT`` or ``BOOLEAN``."""
    sql = str(STATEMENTS[role].compile(dialect=oracle.dialect()))
    assert [w for w in ORACLE_WORD.findall(sql) if len(w) > MAX_IDENTIFIER] == []
    assert not re.search(r"\b(BOOLEAN|LIMIT|clock_timestamp|julianday)\b", sql)
    if role != "history":
        assert "SYS_EXTRACT_UTC(SYSTIMESTAMP)" in sql
    if role in ("renew", "take_over", "first"):
        assert sql.endswith("RETURNING acd_lease.epoch, acd_lease.expires_s INTO :ret_0, :ret_1")


def test_a_database_without_a_known_clock_is_refused_at_compile_time() -> None:
    """A dialect with no ``db_now`` rendering fails loudly instead of using the host clock."""
    with pytest.raises(sa.exc.CompileError, match="no database clock for the mysql"):
        STATEMENTS["renew"].compile(dialect=mysql.dialect())
