"""What the supervisor console reads from the SQL journal, on SQLite and the real PostgreSQL.

Entries go in through ``SqlJournal.write`` as the runtime writes them; the worklist tests
also run with Oracle's ``MERGE`` statements on PostgreSQL, since a status set by the
console comes through the same merge of ``acd_callback`` rows. Oracle itself is absent:
every read is compiled for it and checked against its limits.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.dialects import postgresql, sqlite

from acd.core.states import CallState
from acd.journal import EntryKind, JournalEntry
from connectors.sql import JournalUnavailable, SqlJournal
from connectors.sql.engine import journal_url, make_engine
from connectors.sql.lease import SqlLease
from connectors.sql.reads import MAX_ROWS, statements
from connectors.sql.schema import CALLBACK_STATUSES, MAX_IDENTIFIER
from tests.contract.test_sql_journal import BACKENDS, Backend, abandoned, backend_on
from tests.services import postgres_url, unique_name
from tests.unit.sql.stories import T0, Ids, call_entry, entry
from tests.unit.sql.test_oracle_dialect import BIND, ORACLE_URL, too_long

AUDIT_KEYS = ["id", "at_s", "epoch", "actor", "role", "action", "target", "details", "source"]


@pytest.fixture(params=BACKENDS[:2])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """An empty SQLite file, or a fresh PostgreSQL schema."""
    with backend_on(request.param, tmp_path) as found:
        yield found


@pytest_asyncio.fixture
async def journal(place: Backend) -> AsyncIterator[SqlJournal]:
    """A journal on a migrated SQLite or PostgreSQL database."""
    opened = place.journal()
    await opened.create_schema()
    yield opened
    await opened.close()


@pytest.fixture(params=BACKENDS)
def any_writer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Every database and write path of the journal contract, Oracle's ``MERGE`` included."""
    with backend_on(request.param, tmp_path) as found:
        yield found


@pytest_asyncio.fixture
async def worklist(any_writer: Backend) -> AsyncIterator[SqlJournal]:
    """A journal on a migrated database, for each way the worklist can be written."""
    opened = any_writer.journal()
    await opened.create_schema()
    yield opened
    await opened.close()


def audited(ids: Ids, at: float, actor: str, action: str, target: str) -> JournalEntry:
    """An AUDIT entry as the console writes it: who, what, on what, details in JSON."""
    details = f'{{"target": "{target}", "note": "été"}}'
    return entry(ids, EntryKind.AUDIT, at, actor=actor, role="supervisor", action=action,
                 target=target, details=details, source="console")  # fmt: skip


def decided(ids: Ids, at: float, call: str, dept: str, action: str = "offer") -> JournalEntry:
    """A DECISION entry for one call of one department."""
    return entry(ids, EntryKind.DECISION, at, call=call, dept=dept, action=action,
                 route=f"{dept}-r", agent="arm-1", target="PJSIP/arm-1", rule="longest-idle",
                 reason="longest-idle (idle=3.0)", config_version="v1")  # fmt: skip


def called_back(ids: Ids, at: float, call: str, status: str, actor: str) -> JournalEntry:
    """A CALLBACK entry: the console set a call's status on the worklist."""
    return entry(ids, EntryKind.CALLBACK, at, call=call, status=status, actor=actor, note="ok")


# -- audit trail -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_audit_trail_lists_actions_newest_first_with_details_as_written(
    journal: SqlJournal,
) -> None:
    """Every column comes back; equal times are ordered by entry id, the later one first."""
    ids = Ids()
    first = audited(ids, T0, "sup-1", "pause", "arm-1")
    same_time = audited(ids, T0, "sup-2", "resume", "arm-1")
    last = audited(ids, T0 + 10, "sup-1", "reload", "configs/acd.yaml")
    await journal.write([last, first, same_time])
    rows = await journal.audit()
    assert [r["id"] for r in rows] == [last.id, same_time.id, first.id]
    assert list(rows[0]) == AUDIT_KEYS
    assert rows[2] == {
        "id": first.id, "at_s": T0, "epoch": 1, "actor": "sup-1", "role": "supervisor",
        "action": "pause", "target": "arm-1", "details": '{"target": "arm-1", "note": "été"}',
        "source": "console",
    }  # fmt: skip


@pytest.mark.asyncio
async def test_audit_trail_filters_by_actor_action_and_exact_target(journal: SqlJournal) -> None:
    """Filters combine; a target matches whole, never as a prefix of a longer one."""
    ids = Ids()
    await journal.write([
        audited(ids, T0, "sup-1", "pause", "arm-1"),
        audited(ids, T0 + 1, "sup-1", "pause", "arm-10"),
        audited(ids, T0 + 2, "sup-2", "pause", "arm-1"),
        audited(ids, T0 + 3, "sup-1", "resume", "arm-1"),
    ])  # fmt: skip
    assert [r["at_s"] for r in await journal.audit(actor="sup-1")] == [T0 + 3, T0 + 1, T0]
    assert [r["at_s"] for r in await journal.audit(action="pause")] == [T0 + 2, T0 + 1, T0]
    assert [r["at_s"] for r in await journal.audit(target="arm-1")] == [T0 + 3, T0 + 2, T0]
    found = await journal.audit(actor="sup-1", action="pause", target="arm-1")
    assert [r["at_s"] for r in found] == [T0]
    assert await journal.audit(actor="nobody") == []


@pytest.mark.asyncio
async def test_audit_window_includes_its_start_and_excludes_its_end(journal: SqlJournal) -> None:
    """``since_s <= at_s < until_s``: adjacent windows share no entry."""
    ids = Ids()
    await journal.write([audited(ids, T0 + n, "sup", "pause", f"arm-{n}") for n in range(5)])
    found = await journal.audit(since_s=T0 + 1, until_s=T0 + 3)
    assert [r["target"] for r in found] == ["arm-2", "arm-1"]
    assert [r["target"] for r in await journal.audit(since_s=T0 + 3)] == ["arm-4", "arm-3"]
    assert [r["target"] for r in await journal.audit(until_s=T0 + 1)] == ["arm-0"]


@pytest.mark.asyncio
async def test_audit_limit_keeps_the_newest_and_never_exceeds_a_thousand(
    journal: SqlJournal,
) -> None:
    """A page holds the newest rows; asking for more than ``MAX_ROWS`` gets ``MAX_ROWS``."""
    ids = Ids()
    await journal.write([audited(ids, T0 + n, "sup", "pause", "arm") for n in range(MAX_ROWS + 5)])
    assert [r["at_s"] for r in await journal.audit(limit=2)] == [
        T0 + MAX_ROWS + 4,
        T0 + MAX_ROWS + 3,
    ]
    assert len(await journal.audit()) == 200
    assert len(await journal.audit(limit=MAX_ROWS * 10)) == MAX_ROWS


@pytest.mark.asyncio
async def test_limit_below_one_is_refused(journal: SqlJournal) -> None:
    """A limit of 0 or less is the caller's mistake: ``ValueError``, no query run."""
    with pytest.raises(ValueError, match="at least 1"):
        await journal.audit(limit=0)
    with pytest.raises(ValueError, match="at least 1"):
        await journal.decisions(limit=-1)
    with pytest.raises(ValueError, match="at least 1"):
        await journal.callbacks(limit=0)


# -- routing decisions and agents ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_decisions_of_a_department_or_a_call_come_newest_first(journal: SqlJournal) -> None:
    """Each decision with its route, rule, reason and configuration version."""
    ids = Ids()
    offer = decided(ids, T0, "c-1", "75")
    await journal.write([
        offer,
        decided(ids, T0 + 1, "c-2", "92"),
        decided(ids, T0 + 2, "c-1", "75", action="overflow"),
        decided(ids, T0 + 3, "c-3", "75"),
    ])  # fmt: skip
    in_75 = await journal.decisions(dept="75")
    assert [(d["call_id"], d["action"]) for d in in_75] == [
        ("c-3", "offer"), ("c-1", "overflow"), ("c-1", "offer"),
    ]  # fmt: skip
    assert in_75[2] == {
        "id": offer.id, "at_s": T0, "epoch": 1, "call_id": "c-1", "dept": "75",
        "action": "offer", "route": "75-r", "agent": "arm-1", "target": "PJSIP/arm-1",
        "rule": "longest-idle", "reason": "longest-idle (idle=3.0)", "config_version": "v1",
    }  # fmt: skip
    assert [d["at_s"] for d in await journal.decisions(call_id="c-1")] == [T0 + 2, T0]
    assert [d["at_s"] for d in await journal.decisions(dept="92", call_id="c-1")] == []
    assert [d["at_s"] for d in await journal.decisions(limit=1)] == [T0 + 3]


@pytest.mark.asyncio
async def test_agent_history_is_one_agents_states_newest_first(journal: SqlJournal) -> None:
    """An agent's logins, pauses with reasons and calls; other agents stay out."""
    ids = Ids()
    states = [
        ("ready", "logged-out", None),
        ("paused", "ready", "repas"),
        ("ready", "paused", None),
    ]
    await journal.write([
        *(entry(ids, EntryKind.AGENT, T0 + n, agent="arm-1", state=s, previous=p,
                pause_reason=why, reason="console") for n, (s, p, why) in enumerate(states)),
        entry(ids, EntryKind.AGENT, T0 + 5, agent="arm-2", state="ready", previous="logged-out"),
    ])  # fmt: skip
    history = await journal.agent_history("arm-1")
    assert [(h["state"], h["previous"], h["pause_reason"]) for h in history] == [
        ("ready", "paused", None), ("paused", "ready", "repas"), ("ready", "logged-out", None),
    ]  # fmt: skip
    assert set(history[0]) == {"id", "at_s", "epoch", "agent", "state", "previous",
                               "pause_reason", "reason"}  # fmt: skip
    assert [h["at_s"] for h in await journal.agent_history("arm-1", limit=1)] == [T0 + 2]
    assert await journal.agent_history("arm-9") == []


# -- callback worklist -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_status_set_on_every_call_of_a_merged_item_shows_on_the_item(
    worklist: SqlJournal,
) -> None:
    """Two abandons from one number, both marked called-back: the item says so, and by whom."""
    ids = Ids()
    await worklist.write([
        *abandoned(ids, "c-1", T0 + 100, caller="0611111111"),
        *abandoned(ids, "c-2", T0 + 200, caller="0611111111"),
    ])  # fmt: skip
    (item,) = await worklist.callbacks("75")
    assert (item["repeats"], item["call_ids"], item["status"]) == (
        2,
        ["c-1", "c-2"],
        "to-call-back",
    )
    await worklist.write([
        called_back(ids, T0 + 500, call, "called-back", "sup-1") for call in item["call_ids"]
    ])  # fmt: skip
    (done,) = await worklist.callbacks("75")
    assert (done["status"], done["updated_by"], done["updated_s"]) == (
        "called-back",
        "sup-1",
        T0 + 500,
    )
    assert (done["repeats"], done["call_ids"], done["first_abandoned_s"]) == (
        2,
        ["c-1", "c-2"],
        T0 + 100,
    )
    assert await worklist.callbacks(status="called-back") == [done]
    assert await worklist.callbacks(status="to-call-back") == []


@pytest.mark.asyncio
async def test_abandoned_call_not_yet_updated_is_to_call_back(worklist: SqlJournal) -> None:
    """A new abandon, next to an item already handled, is listed to call back by nobody yet."""
    ids = Ids()
    await worklist.write(abandoned(ids, "c-1", T0 + 100, caller="0611111111"))
    await worklist.write([called_back(ids, T0 + 150, "c-1", "reached", "sup-1")])
    await worklist.write(abandoned(ids, "c-2", T0 + 200, caller="0622222222"))
    (pending,) = await worklist.callbacks(status="to-call-back")
    assert (pending["call_id"], pending["updated_by"], pending["repeats"]) == ("c-2", None, 1)
    assert [i["call_id"] for i in await worklist.callbacks(status="reached")] == ["c-1"]


@pytest.mark.asyncio
async def test_status_filter_applies_to_the_merged_item_not_its_older_calls(
    worklist: SqlJournal,
) -> None:
    """Only the older call marked: the item (its latest call) is still to call back."""
    ids = Ids()
    await worklist.write([
        *abandoned(ids, "c-1", T0 + 100, caller="0611111111"),
        *abandoned(ids, "c-2", T0 + 200, caller="0611111111"),
        called_back(ids, T0 + 150, "c-1", "not-reached", "sup-1"),
    ])  # fmt: skip
    assert await worklist.callbacks(status="not-reached") == []
    (item,) = await worklist.callbacks(status="to-call-back")
    assert (item["call_id"], item["repeats"]) == ("c-2", 2)


@pytest.mark.asyncio
async def test_worklist_limit_keeps_the_oldest_items(journal: SqlJournal) -> None:
    """The limit counts merged items, oldest first, after the status filter."""
    ids = Ids()
    await journal.write([
        *abandoned(ids, "c-1", T0 + 100, caller="0611111111"),
        *abandoned(ids, "c-2", T0 + 200, caller="0622222222"),
        *abandoned(ids, "c-3", T0 + 300, caller="0611111111"),
        *abandoned(ids, "c-4", T0 + 400, caller=None),
    ])  # fmt: skip
    assert [i["call_id"] for i in await journal.callbacks(limit=2)] == ["c-2", "c-3"]
    assert [i["call_id"] for i in await journal.callbacks(since_s=T0 + 250, limit=5)] == [
        "c-3", "c-4",
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_unknown_status_filter_is_refused(journal: SqlJournal) -> None:
    """A status outside ``CALLBACK_STATUSES`` is a typo, not an empty list."""
    with pytest.raises(ValueError, match="unknown callback status 'called_back'"):
        await journal.callbacks(status="called_back")
    for status in CALLBACK_STATUSES:
        assert await journal.callbacks(status=status) == []


# -- the system page: database and leadership ------------------------------------------------------


@pytest.mark.asyncio
async def test_ping_measures_one_round_trip(journal: SqlJournal) -> None:
    """A reachable database answers ``SELECT 1`` in well under the timeout."""
    took = await journal.ping()
    assert 0.0 <= took < 1.0


def _nowhere(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite-missing-directory":
        return f"sqlite:///{tmp_path / 'gone' / 'journal.db'}"
    if kind == "postgresql-refused":
        return "postgresql://acd@127.0.0.1:1/acd"
    # The server answers, but the database does not exist.
    return postgres_url().rsplit("/", 1)[0] + "/" + unique_name("no_such_db")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "kind", ["sqlite-missing-directory", "postgresql-refused", "postgresql-unknown-database"]
)
async def test_ping_of_a_journal_that_cannot_answer_is_unavailable(
    kind: str, tmp_path: Path
) -> None:
    """Whatever the reason, ``JournalUnavailable`` naming the database, no library error."""
    journal = SqlJournal(make_engine(journal_url(_nowhere(kind, tmp_path))))
    try:
        with pytest.raises(JournalUnavailable, match="pinging"):
            await journal.ping()
    finally:
        await journal.close()
    assert not (tmp_path / "gone").exists()


@pytest.mark.asyncio
async def test_ping_of_a_server_that_never_answers_times_out() -> None:
    """A server that accepts and stays silent: ``JournalUnavailable`` after ``timeout_s``."""
    accepted: list[asyncio.StreamWriter] = []

    async def stay_silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    silent = await asyncio.start_server(stay_silent, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    journal = SqlJournal(make_engine(journal_url(f"postgresql://acd@127.0.0.1:{port}/acd")))
    try:
        with pytest.raises(JournalUnavailable, match=r"no answer in 0\.2 s"):
            await journal.ping(timeout_s=0.2)
    finally:
        await journal.close()
        for writer in accepted:
            writer.close()
            await writer.wait_closed()
        silent.close()
        await silent.wait_closed()
    assert len(accepted) == 1  # the journal did connect: only the answer never came


@pytest.mark.asyncio
async def test_lease_holder_and_epochs_say_who_leads_and_who_led(journal: SqlJournal) -> None:
    """The lease's row as stored, and its epochs newest first; another lease is apart."""
    assert await journal.lease_holder("acd") is None
    assert await journal.epochs("acd") == []
    lease = SqlLease.of(journal)
    for holder in ("acd-a", "acd-b", "acd-a"):
        await lease.try_acquire(holder, 30)
        await lease.release(holder)
    grant = await lease.try_acquire("acd-b", 30)
    await SqlLease(journal, name="acd-92").try_acquire("acd-x", 30)
    held = await journal.lease_holder("acd")
    assert held is not None
    assert (held["holder"], held["epoch"]) == ("acd-b", 4)
    assert set(held) == {"holder", "epoch", "expires_s"}
    assert 29 < held["expires_s"] - grant.db_now_s <= 31
    epochs = await journal.epochs("acd")
    assert [(e["epoch"], e["holder"]) for e in epochs] == [
        (4, "acd-b"), (3, "acd-a"), (2, "acd-b"), (1, "acd-a"),
    ]  # fmt: skip
    assert set(epochs[0]) == {"epoch", "holder", "started_s"}
    assert [e["started_s"] for e in epochs] == sorted(
        (e["started_s"] for e in epochs), reverse=True
    )
    assert [e["epoch"] for e in await journal.epochs("acd", limit=2)] == [4, 3]
    assert [e["holder"] for e in await journal.epochs("acd-92")] == ["acd-x"]


@pytest.mark.asyncio
async def test_unreachable_database_makes_reads_unavailable() -> None:
    """A refused connection raises ``JournalUnavailable`` from a read, like from a write."""
    journal = SqlJournal(make_engine(journal_url("postgresql://acd@127.0.0.1:1/acd")))
    try:
        with pytest.raises(JournalUnavailable, match="reading the audit trail"):
            await journal.audit()
    finally:
        await journal.close()


# -- Oracle ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(statements()))
def test_every_read_compiles_for_oracle_within_its_limits(role: str) -> None:
    """Names and binds within 30 characters, ``FETCH FIRST`` for limits, ``FROM DUAL`` to ping."""
    journal = SqlJournal.from_url(ORACLE_URL, password="not-used")
    sql = str(statements()[role].compile(dialect=journal.engine.dialect))
    assert too_long(sql) == [], sql
    assert [b for b in BIND.findall(sql) if len(b) > MAX_IDENTIFIER] == []
    assert not re.search(r"\b(LIMIT|OFFSET|BOOLEAN|ILIKE)\b", sql), sql
    if role in ("audit", "decisions", "agent_history", "epochs"):
        assert "FETCH FIRST" in sql
    if role == "ping":
        assert sql == "SELECT 1 FROM DUAL"


def test_ping_is_a_bare_select_one_elsewhere() -> None:
    """PostgreSQL and SQLite get the plain ``SELECT 1``, no bind to send."""
    for dialect in (postgresql.dialect(), sqlite.dialect()):
        assert str(statements()["ping"].compile(dialect=dialect)) == "SELECT 1"


# -- the day's figures -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_day_figures_count_each_departments_calls_since_midnight(journal: SqlJournal) -> None:
    """Answered within target, long abandons and overflows, per department, from a moment on."""
    ids = Ids()
    w, o, c, e = CallState.WAITING, CallState.OFFERED, CallState.CONNECTED, CallState.ENDED
    story: list[JournalEntry] = []
    # 75: one answered after 20 s, one after 90 s, one long abandon, one short abandon.
    for call, wait in (("c-1", 20.0), ("c-2", 90.0)):
        story += [
            call_entry(ids, T0, call, w, None, arrived_at=T0),
            call_entry(ids, T0 + wait - 1, call, o, w, arrived_at=T0, agent="arm-1"),
            call_entry(ids, T0 + wait, call, c, o, arrived_at=T0, agent="arm-1"),
            call_entry(ids, T0 + wait + 60, call, e, c, arrived_at=T0, agent="arm-1"),
        ]
    story += abandoned(ids, "c-3", T0 + 70, caller="0611111111")
    story += [
        call_entry(ids, T0, "c-4", w, None, arrived_at=T0),
        call_entry(ids, T0 + 2, "c-4", CallState.ABANDONED, w, arrived_at=T0),
    ]
    # 92: one overflowed out; and a call of yesterday that must not count.
    story += [
        call_entry(ids, T0, "c-5", w, None, arrived_at=T0, dept="92", path="92"),
        call_entry(ids, T0 + 5, "c-5", CallState.OVERFLOWING, w, arrived_at=T0, dept="92"),
        call_entry(
            ids,
            T0 + 6,
            "c-5",
            CallState.OVERFLOWED,
            CallState.OVERFLOWING,
            arrived_at=T0,
            dept="92",
        ),
        call_entry(ids, T0 - 90_000, "c-6", w, None, arrived_at=T0 - 90_000, dept="92"),
    ]
    await journal.write(story)
    figures = await journal.day_figures(T0 - 3600, target_s=60.0, short_abandon_s=5.0)
    assert figures == {
        "75": {"entered": 4, "answered": 2, "within_target": 1, "abandoned": 1,
               "overflowed_out": 0},
        "92": {"entered": 1, "answered": 0, "within_target": 0, "abandoned": 0,
               "overflowed_out": 1},
    }  # fmt: skip


@pytest.mark.asyncio
async def test_day_figures_use_each_departments_own_short_abandon(journal: SqlJournal) -> None:
    """A department with a lower threshold counts a 2 s hang-up as an abandon; others do not."""
    ids = Ids()
    w = CallState.WAITING
    story: list[JournalEntry] = []
    for dept in ("75", "92"):
        call = f"c-{dept}"
        story += [
            call_entry(ids, T0, call, w, None, arrived_at=T0, dept=dept, path=dept),
            call_entry(ids, T0 + 2, call, CallState.ABANDONED, w, arrived_at=T0, dept=dept),
        ]
    await journal.write(story)
    figures = await journal.day_figures(
        T0 - 1, target_s=60.0, short_abandon_s=5.0, short_abandon_by_dept={"75": 1.0}
    )
    assert (figures["75"]["abandoned"], figures["92"]["abandoned"]) == (1, 0)
