"""Call stories: a call's CALL entries as the engine writes them, for the journal's tests.

A story walks the call transition table from ``waiting`` to a terminal state; its entries
carry what ``acd.journal.Journaling`` puts in them (priority and caller on the first entry
only, the arrival time and the overflow path on every one) and UUIDv7 ids in birth order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import strategies as st

from acd.core.states import CALL_TRANSITIONS, TERMINAL_CALL_STATES, CallState
from acd.journal import EntryKind, JournalEntry, Scalar, Uuid7Source

T0 = 1_700_000_000.0
PARTNER_DEPTS = ("92", "93", "94")
Draw = Callable[[st.SearchStrategy[Any]], Any]
"""``draw`` of ``st.composite`` or ``st.data()``."""


class Ids:
    """UUIDv7s made from the entries' own times, so their order is the order of birth."""

    def __init__(self) -> None:
        self.now_ms = 0
        self._source = Uuid7Source(clock_ms=lambda: self.now_ms)

    def at(self, at: float) -> str:
        """The next id, born at ``at`` (epoch seconds)."""
        self.now_ms = int(at * 1000)
        return self._source()


def entry(ids: Ids, kind: EntryKind, at: float, **fields: Scalar) -> JournalEntry:
    """One entry with a fresh id born at ``at``."""
    return JournalEntry(id=ids.at(at), kind=kind, at=at, epoch=1, fields=fields)


def call_entry(
    ids: Ids,
    at: float,
    call: str,
    state: CallState,
    previous: CallState | None,
    *,
    arrived_at: float,
    dept: str = "75",
    agent: str | None = None,
    path: str = "75",
    caller: str | None = "0601020304",
    priority: str = "normal",
) -> JournalEntry:
    """A CALL entry as ``Journaling`` makes it (priority and caller only on the first)."""
    first = previous is None
    return entry(
        ids,
        EntryKind.CALL,
        at,
        call=call,
        dept=dept,
        queue=f"{dept}-general",
        state=state.value,
        previous=None if previous is None else previous.value,
        agent=agent,
        priority=priority if first else None,
        caller=caller if first else None,
        origin=None,
        path=path,
        arrived_at=arrived_at,
        reason="test",
    )


@st.composite
def call_story(draw: st.DrawFn, call: str = "call-1") -> list[JournalEntry]:
    """A whole call, arrival to end, with repeated offers, overflows and equal times."""
    ids = Ids()
    at = arrived = T0 + draw(st.integers(0, 10_000))
    path = ["75"]
    state, previous = CallState.WAITING, None
    entries: list[JournalEntry] = []
    agent: str | None = None
    unanswered = draw(st.integers(0, 3))
    for _ in range(16):
        if state is CallState.OFFERED:
            agent = f"arm-{draw(st.integers(1, 3))}"  # the ARM rung keeps the call if answered
        elif state not in (CallState.CONNECTED, CallState.ENDED):
            agent = None
        dept = path[-1]
        entries.append(
            call_entry(
                ids, at, call, state, previous,
                arrived_at=arrived, dept=dept, agent=agent, path=">".join(path),
            )
        )  # fmt: skip
        if state in TERMINAL_CALL_STATES:
            return entries
        choices = sorted(CALL_TRANSITIONS[state])
        if unanswered > 0 and state in (CallState.WAITING, CallState.OFFERED):
            # Rings with no answer first: offers repeat, the case the merge rules must get right.
            unanswered -= state is CallState.OFFERED
            choices = [CallState.OFFERED if state is CallState.WAITING else CallState.WAITING]
        elif draw(st.integers(0, 3)) > 0:  # mostly carry on rather than end at once
            choices = [s for s in choices if s not in TERMINAL_CALL_STATES] or choices
        previous, state = state, draw(st.sampled_from(choices))
        if state is CallState.OVERFLOWING:
            path.append(draw(st.sampled_from(PARTNER_DEPTS)))
        at += draw(st.sampled_from([0.0, 0.001, 0.25, 3.0, 40.0]))
    # Long enough: the call ends, or the caller gives up.
    last = CallState.ENDED if state is CallState.CONNECTED else CallState.ABANDONED
    entries.append(
        call_entry(
            ids, at, call, last, state,
            arrived_at=arrived, dept=path[-1], agent=agent if last is CallState.ENDED else None,
            path=">".join(path),
        )
    )  # fmt: skip
    return entries


def delivery(draw: Draw, entries: list[JournalEntry]) -> list[list[JournalEntry]]:
    """The entries shuffled, some twice, cut into batches: what an outbox may deliver."""
    sent = draw(st.one_of(st.permutations(entries), st.just(entries[::-1])))
    mixed = list(sent)
    for again in draw(st.lists(st.sampled_from(entries), max_size=len(entries))):
        mixed.insert(draw(st.integers(0, len(mixed))), again)
    cuts = sorted(draw(st.lists(st.integers(0, len(mixed)), max_size=4)))
    return [mixed[a:b] for a, b in _pairs([0, *cuts, len(mixed)]) if b > a]


def _pairs(points: list[int]) -> Iterator[tuple[int, int]]:
    return itertools.pairwise(points)
