"""Call records and worklist rows folded in memory: milestones, and any delivery order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.core.states import CallState
from acd.journal import EntryKind, JournalEntry, JournalEntryError
from connectors.sql.rows import CallRow, entry_row, fold_calls, plan_batch
from tests.unit.sql.stories import T0, Ids, call_entry, call_story, delivery, entry

W, OF, C, E = CallState.WAITING, CallState.OFFERED, CallState.CONNECTED, CallState.ENDED


def record(entries: list[JournalEntry]) -> CallRow:
    """The record of the one call these entries tell, folded in memory."""
    (row,) = fold_calls(entry_row(e) for e in entries).values()
    return row


def answered_call(ids: Ids) -> list[JournalEntry]:
    """Arrives, rings one ARM with no answer, rings another who answers, ends."""
    return [
        call_entry(ids, T0, "c1", W, None, arrived_at=T0),
        call_entry(ids, T0 + 5, "c1", OF, W, arrived_at=T0, agent="arm-1"),
        call_entry(ids, T0 + 25, "c1", W, OF, arrived_at=T0),
        call_entry(ids, T0 + 26, "c1", OF, W, arrived_at=T0, agent="arm-2"),
        call_entry(ids, T0 + 30, "c1", C, OF, arrived_at=T0, agent="arm-2"),
        call_entry(ids, T0 + 200, "c1", E, C, arrived_at=T0, agent="arm-2"),
    ]


def test_answered_call_record_holds_each_milestone_once() -> None:
    """Arrival, first offer, answer by the second ARM, end: each milestone at its time."""
    row = record(answered_call(Ids()))
    assert (row.arrived_s, row.offered_s, row.answered_s, row.ended_s) == (
        T0,
        T0 + 5,
        T0 + 30,
        T0 + 200,
    )
    assert (row.outcome, row.state, row.agent) == ("ended", "ended", "arm-2")
    assert (row.priority, row.caller, row.dept, row.queue) == (
        "normal",
        "0601020304",
        "75",
        "75-general",
    )
    assert row.updated_s == T0 + 200


def test_overflowed_call_keeps_the_longest_path_and_its_terminal_state() -> None:
    """A call sent on to a partner ends ``overflowed`` with its whole path."""
    ids = Ids()
    rows = [
        call_entry(ids, T0, "c2", W, None, arrived_at=T0),
        call_entry(
            ids, T0 + 60, "c2", CallState.OVERFLOWING, W, arrived_at=T0, path="75>92"
        ),
        call_entry(
            ids, T0 + 62, "c2", CallState.OVERFLOWED, CallState.OVERFLOWING,
            arrived_at=T0, path="75>92",
        ),
    ]  # fmt: skip
    row = record(list(reversed(rows)))
    assert (row.path, row.outcome, row.ended_s, row.answered_s) == (
        "75>92",
        "overflowed",
        T0 + 62,
        None,
    )


def test_first_entry_marks_the_arrival_when_no_arrival_time_is_given() -> None:
    """Without ``arrived_at``, the entry with no previous state is the arrival."""
    ids = Ids()
    first = entry(ids, EntryKind.CALL, T0 + 3, call="c3", state="waiting", dept="75")
    later = entry(ids, EntryKind.CALL, T0 + 9, call="c3", state="abandoned", previous="waiting")
    row = record([later, first])
    assert (row.arrived_s, row.ended_s, row.outcome) == (T0 + 3, T0 + 9, "abandoned")


@given(st.data())
def test_call_record_is_the_same_whatever_the_delivery(data: st.DataObject) -> None:
    """Shuffled, duplicated, cut into batches: the merged record equals the in-order fold."""
    story = data.draw(call_story())
    expected = record(story)
    merged: CallRow | None = None
    for batch in delivery(data.draw, story):
        for row in plan_batch(batch).calls.values():
            merged = row if merged is None else merged.join(row)
    assert merged == expected


@given(call_story())
def test_joining_a_record_with_itself_changes_nothing(story: list[JournalEntry]) -> None:
    """Idempotence: an entry delivered twice leaves the record as it was."""
    row = record(story)
    assert row.join(row) == row


def test_entry_rows_clip_long_text_and_store_no_empty_string() -> None:
    """A reason beyond its column is clipped; '' is stored as NULL, as Oracle would."""
    ids = Ids()
    long = entry(ids, EntryKind.CALL, T0, call="c4", state="waiting", reason="x" * 5000, agent="")
    row = entry_row(long)
    assert len(row["reason"]) == 1000
    assert row["agent"] is None
    assert row["priority"] is None  # absent fields are NULL columns


def test_a_batch_keeps_one_row_per_entry_id() -> None:
    """The same entry twice in one batch is written once."""
    ids = Ids()
    one = entry(ids, EntryKind.AUDIT, T0, actor="supervisor-1", action="login")
    plan = plan_batch([one, one, one])
    assert plan.size == 1


def test_abandoned_call_opens_a_worklist_row_and_a_callback_updates_it() -> None:
    """``abandoned`` starts at to-call-back; a later CALLBACK entry sets the status and who."""
    ids = Ids()
    gone = call_entry(ids, T0 + 40, "c5", CallState.ABANDONED, W, arrived_at=T0)
    back = entry(ids, EntryKind.CALLBACK, T0 + 90, call="c5", status="reached", actor="arm-1")
    first = plan_batch([back, gone]).callbacks["c5"]
    again = plan_batch([gone, back]).callbacks["c5"]
    assert first == again
    assert (first.status, first.updated_by, first.abandoned_s, first.dept) == (
        "reached",
        "arm-1",
        T0 + 40,
        "75",
    )


def test_entry_with_a_field_its_table_lacks_is_refused_as_a_bad_entry() -> None:
    """A field no column holds is the producer's bug: refused by name, never dropped."""
    stray = entry(Ids(), EntryKind.AGENT, T0, agent="arm-1", queue="75-general")
    with pytest.raises(JournalEntryError, match="unknown field 'queue' for agent"):
        plan_batch([stray])
