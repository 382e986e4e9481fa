"""The call and agent transition tables: what is allowed, what raises, what is terminal."""

from __future__ import annotations

import pytest

from acd.core.errors import IllegalTransition
from acd.core.states import (
    AGENT_TRANSITIONS,
    CALL_TRANSITIONS,
    TERMINAL_CALL_STATES,
    AgentState,
    CallState,
    check_agent_move,
    check_call_move,
)

C = CallState
A = AgentState


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (C.WAITING, C.OFFERED),
        (C.OFFERED, C.CONNECTED),
        (C.CONNECTED, C.ENDED),
        (C.WAITING, C.OVERFLOWING),
        (C.OVERFLOWING, C.OVERFLOWED),
        (C.WAITING, C.ABANDONED),
        (C.OFFERED, C.ABANDONED),
        (C.WAITING, C.FALLBACK),
        (C.OFFERED, C.WAITING),
        (C.OVERFLOWING, C.WAITING),
    ],
)
def test_call_table_allows_the_life_cycle_of_a_15_call(current: C, target: C) -> None:
    """Every move of the documented call life cycle is allowed."""
    check_call_move(current, target, "t")


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (C.WAITING, C.CONNECTED),
        (C.WAITING, C.ENDED),
        (C.CONNECTED, C.WAITING),
        (C.CONNECTED, C.ABANDONED),
        (C.OFFERED, C.OVERFLOWED),
        (C.ENDED, C.WAITING),
        (C.FALLBACK, C.OFFERED),
        (C.ABANDONED, C.ABANDONED),
    ],
)
def test_call_table_rejects_skipped_or_reversed_moves(current: C, target: C) -> None:
    """A move outside the table raises IllegalTransition with its slug."""
    with pytest.raises(IllegalTransition) as err:
        check_call_move(current, target, "t")
    assert err.value.slug == "illegal-transition"


def test_terminal_call_states_have_no_way_out() -> None:
    """Ended, overflowed, abandoned and fallback are final: nothing leaves them."""
    assert all(not CALL_TRANSITIONS[s] for s in TERMINAL_CALL_STATES)
    assert {s for s, moves in CALL_TRANSITIONS.items() if not moves} == TERMINAL_CALL_STATES


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (A.LOGGED_OUT, A.AVAILABLE, True),
        (A.LOGGED_OUT, A.PAUSED, False),
        (A.LOGGED_OUT, A.OFFERED, False),
        (A.AVAILABLE, A.OFFERED, True),
        (A.AVAILABLE, A.ON_CALL, False),
        (A.OFFERED, A.ON_CALL, True),
        (A.OFFERED, A.PAUSED, True),
        (A.ON_CALL, A.WRAPUP, True),
        (A.ON_CALL, A.OFFERED, False),
        (A.WRAPUP, A.AVAILABLE, True),
        (A.WRAPUP, A.OFFERED, False),
        (A.PAUSED, A.AVAILABLE, True),
        (A.PAUSED, A.OFFERED, False),
    ],
)
def test_agent_table(current: A, target: A, allowed: bool) -> None:
    """The agent table allows exactly the documented moves."""
    assert (target in AGENT_TRANSITIONS[current]) is allowed
    if allowed:
        check_agent_move(current, target, "t")
    else:
        with pytest.raises(IllegalTransition):
            check_agent_move(current, target, "t")
