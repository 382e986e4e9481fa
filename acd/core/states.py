"""Call and agent life cycles as transition tables; an illegal move raises and changes nothing."""

from __future__ import annotations

from enum import StrEnum

from acd.core.errors import IllegalTransition


class CallState(StrEnum):
    """Where a caller stands, from the middleware's point of view."""

    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    ENDED = "ended"
    OVERFLOWING = "overflowing"
    OVERFLOWED = "overflowed"
    ABANDONED = "abandoned"
    FALLBACK = "fallback"


TERMINAL_CALL_STATES = frozenset(
    {CallState.ENDED, CallState.OVERFLOWED, CallState.ABANDONED, CallState.FALLBACK}
)

_W, _O, _C = CallState.WAITING, CallState.OFFERED, CallState.CONNECTED
_OVF = CallState.OVERFLOWING

CALL_TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    _W: frozenset({_O, _OVF, CallState.ABANDONED, CallState.FALLBACK}),
    # Back to WAITING: ring-no-answer or a failed route; the call keeps its place.
    _O: frozenset({_C, _W, CallState.ABANDONED}),
    _C: frozenset({CallState.ENDED}),
    # Back to WAITING: the partner refused or could not be reached; same place.
    # FALLBACK: the partner's line failed and the dialplan's fallback took the caller.
    _OVF: frozenset({CallState.OVERFLOWED, _W, CallState.ABANDONED, CallState.FALLBACK}),
    CallState.ENDED: frozenset(),
    CallState.OVERFLOWED: frozenset(),
    CallState.ABANDONED: frozenset(),
    CallState.FALLBACK: frozenset(),
}


class AgentState(StrEnum):
    """Where a call-taker stands."""

    LOGGED_OUT = "logged-out"
    AVAILABLE = "available"
    OFFERED = "offered"
    ON_CALL = "on-call"
    WRAPUP = "wrap-up"
    PAUSED = "paused"


_LO, _AV, _OF = AgentState.LOGGED_OUT, AgentState.AVAILABLE, AgentState.OFFERED
_ON, _WU, _PA = AgentState.ON_CALL, AgentState.WRAPUP, AgentState.PAUSED

AGENT_TRANSITIONS: dict[AgentState, frozenset[AgentState]] = {
    _LO: frozenset({_AV}),
    _AV: frozenset({_OF, _PA, _LO}),
    # AVAILABLE after a failed route (busy/unavailable); PAUSED after ring-no-answer.
    _OF: frozenset({_ON, _AV, _PA, _LO}),
    _ON: frozenset({_WU, _AV, _PA, _LO}),
    _WU: frozenset({_AV, _PA, _LO}),
    _PA: frozenset({_AV, _LO}),
}


def check_call_move(current: CallState, target: CallState, what: str) -> None:
    """Raise :class:`IllegalTransition` unless the call table allows ``current → target``."""
    if target not in CALL_TRANSITIONS[current]:
        raise IllegalTransition(f"call {what}: {current} → {target} is not allowed")


def check_agent_move(current: AgentState, target: AgentState, what: str) -> None:
    """Raise :class:`IllegalTransition` unless the agent table allows ``current → target``."""
    if target not in AGENT_TRANSITIONS[current]:
        raise IllegalTransition(f"agent {what}: {current} → {target} is not allowed")
