"""Journal entries: UUIDv7 identity, the encoded form, and what each engine command becomes."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.core import events as ev
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId, DeptId
from acd.core.testing import Driver, simple_spec
from acd.journal import (
    FIELDS,
    EntryKind,
    JournalEntry,
    JournalEntryError,
    Journaling,
    Uuid7Source,
    uuid7,
    uuid7_ms,
)


def test_uuid7_has_version_7_and_the_rfc_variant() -> None:
    """An identifier is a valid RFC 9562 UUID of version 7 carrying its millisecond."""
    text = uuid7(1_700_000_000_123, bytes(range(10)))
    parsed = uuid.UUID(text)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert uuid7_ms(text) == 1_700_000_000_123


def test_uuid7_source_sorts_in_birth_order_within_one_millisecond() -> None:
    """Ids made in the same millisecond (or with a clock going back) still sort in order."""
    clock = iter([5_000, 5_000, 5_000, 4_999, 5_001])
    source = Uuid7Source(clock_ms=lambda: next(clock))
    ids = [source() for _ in range(5)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5


@given(st.lists(st.integers(min_value=0, max_value=2**40), min_size=1, max_size=50))
def test_uuid7_source_never_repeats_nor_goes_back(clock_ms: list[int]) -> None:
    """Whatever the clock says, each new id is greater than the previous one."""
    ticks = iter(clock_ms)
    source = Uuid7Source(clock_ms=lambda: next(ticks))
    ids = [source() for _ in clock_ms]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_entry_survives_encoding() -> None:
    """An entry read back from its bytes equals the one written (unicode included)."""
    entry = JournalEntry(
        id=uuid7(1, bytes(10)),
        kind=EntryKind.AUDIT,
        at=12.5,
        epoch=3,
        fields={"actor": "régulateur", "action": "pause", "target": None},
    )
    assert JournalEntry.decode(entry.encode()) == entry


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"{", "not JSON"),
        (b"[]", "not an object"),
        (b'{"kind":"nope"}', "unknown kind"),
        (b'{"kind":"call","id":"x","at":1,"epoch":0}', "bad id"),
        (b'{"kind":"call","id":"' + b"0" * 36 + b'","at":"1","epoch":0}', "bad time"),
        (
            b'{"kind":"call","id":"' + b"0" * 36 + b'","at":1,"epoch":0,"f":{"x":1}}',
            "unknown field",
        ),
        (
            b'{"kind":"call","id":"' + b"0" * 36 + b'","at":1,"epoch":0,"f":{"call":[1]}}',
            "not a scalar",
        ),
    ],
)
def test_bad_bytes_are_refused_with_the_reason(raw: bytes, why: str) -> None:
    """Bytes that are not an entry raise the journal's own error naming what is wrong."""
    with pytest.raises(JournalEntryError, match=why):
        JournalEntry.decode(raw)


def _journaling(engine: Engine) -> Journaling:
    return Journaling(new_id=Uuid7Source(), epoch=lambda: 7, call_of=engine.call)


def test_a_routed_call_leaves_its_milestones_and_the_offer_with_its_reason() -> None:
    """Arrival, offer and answer become call entries; the offer a decision with its rule."""
    engine = Engine(simple_spec(agents_per_dept=1))
    d = Driver(engine)
    j = _journaling(engine)
    entries = j.entries(
        d.send(ev.AgentLoggedIn(agent=AgentId("75-a0"))), now=d.now, config_version="v1"
    )
    assert [e.kind for e in entries] == [EntryKind.AGENT]
    assert entries[0].get("state") == "available"
    cmds = d.send(ev.CallArrived(call=CallId("pbx1/1.1"), dept=DeptId("75"), caller="0600000001"))
    entries = j.entries(cmds, now=d.now, config_version="v1")
    calls = [e for e in entries if e.kind is EntryKind.CALL]
    decisions = [e for e in entries if e.kind is EntryKind.DECISION]
    assert calls[0].get("state") == "waiting"
    assert calls[0].get("caller") == "0600000001"
    assert calls[0].get("priority") is not None
    assert calls[0].get("path") == "75"
    assert decisions[0].get("action") == "offer"
    assert decisions[0].get("agent") == "75-a0"
    assert decisions[0].get("dept") == "75"
    assert decisions[0].get("config_version") == "v1"
    assert decisions[0].get("rule")
    assert all(e.epoch == 7 for e in entries)
    ids = [e.id for e in entries]
    assert ids == sorted(ids)


def test_every_entry_only_carries_the_fields_of_its_kind() -> None:
    """Whatever the engine does, entries stay within their kind's declared fields."""
    engine = Engine(simple_spec(agents_per_dept=1))
    d = Driver(engine)
    j = _journaling(engine)
    cmds = d.send(ev.AgentLoggedIn(agent=AgentId("75-a0")))
    cmds += d.send(ev.CallArrived(call=CallId("pbx1/1.1"), dept=DeptId("75")))
    cmds += d.send(ev.CallHungUp(call=CallId("pbx1/1.1")), after=3)
    for e in j.entries(cmds, now=d.now, config_version="v1"):
        assert set(e.fields) <= set(FIELDS[e.kind])
        assert JournalEntry.decode(e.encode()) == e


def test_a_forced_overflow_is_journaled_as_a_decision_naming_the_supervisor() -> None:
    """A supervisor's forced overflow leaves a decision with rule forced, partner and who."""
    spec = simple_spec(depts=("75", "92"), agents_per_dept=1)
    engine = Engine(spec)
    d = Driver(engine)
    j = _journaling(engine)
    d.send(ev.CallArrived(call=CallId("pbx1/1.1"), dept=DeptId("75")))
    cmds = d.send(ev.OverflowForced(call=CallId("pbx1/1.1"), partner="92", by="sup-75"))
    entries = j.entries(cmds, now=d.now, config_version="v1")
    [decision] = [e for e in entries if e.kind is EntryKind.DECISION]
    assert (decision.get("action"), decision.get("target")) == ("move", "92")
    assert decision.get("rule") == "forced"
    reason = str(decision.get("reason"))
    assert "by=sup-75" in reason
    assert "lookahead=refuse" in reason
    [moved] = [e for e in entries if e.kind is EntryKind.CALL]
    assert (moved.get("dept"), moved.get("path"), moved.get("origin")) == ("92", "75>92", "75")
    assert moved.get("reason") == decision.get("reason")
