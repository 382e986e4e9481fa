"""Live state as plain documents and back: what a restarted or promoted engine resumes from.

``call_doc`` and ``agent_doc`` picture a live call or agent as JSON-ready mappings (the hot
state stores them); ``restore`` rebuilds a fresh board from them. A document that no
longer fits (its department or agent left the configuration, a field is unreadable) is
skipped with its reason, never guessed: the resync with the PBX that follows every start
settles the rest from the channels themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from acd.core.board import Board, Out
from acd.core.commands import Reason, SendToFallback
from acd.core.ids import AgentId, CallId, DeptId, QueueId, RouteId
from acd.core.model import Agent, Call, merge_skills
from acd.core.states import TERMINAL_CALL_STATES, AgentState, CallState
from acd.core.timers import Due

Doc = Mapping[str, Any]

_ATTACHED = {CallState.OFFERED: AgentState.OFFERED, CallState.CONNECTED: AgentState.ON_CALL}


def call_doc(call: Call) -> dict[str, Any]:
    """A live call as a JSON-ready document."""
    return {
        "id": call.id,
        "dept": call.dept,
        "queue": call.queue,
        "priority": call.priority,
        "skills": [list(s) for s in call.own_skills],
        "arrived_at": call.arrived_at,
        "seq": call.seq,
        "caller": call.caller,
        "origin": call.origin,
        "path": list(call.path),
        "partner": call.partner,
        "state": call.state.value,
        "route": call.route,
        "agent": call.agent,
        "confirmed": call.confirmed,
        "offered_at": call.offered_at,
        "answered_at": call.answered_at,
        "attempts": call.attempts,
    }


def agent_doc(agent: Agent) -> dict[str, Any]:
    """An agent's live state as a JSON-ready document."""
    return {
        "id": agent.id,
        "state": agent.state.value,
        "since": agent.since,
        "idle_since": agent.idle_since,
        "calls": agent.calls,
        "talk_s": agent.talk_s,
        "pause_reason": agent.pause_reason,
        "pending_pause": agent.pending_pause,
        "pending_logout": agent.pending_logout,
        "device_busy": agent.device_busy,
        "backoff": agent.backoff,
        "backoff_until": agent.backoff_until,
        "call": agent.call,
        "last_offer_seq": agent.last_offer_seq,
    }


@dataclass(slots=True)
class Restored:
    """What a restore brought back, what it had to leave, and the commands it implies."""

    calls: int = 0
    agents: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(document id, reason) of every document left out."""
    commands: Out = field(default_factory=list)


class RestoreError(Exception):
    """A document cannot be restored (its reason is kept with the document's id)."""


def restore(board: Board, calls: list[Doc], agents: list[Doc], now: float) -> Restored:
    """Rebuild a fresh board's calls and agents from their documents.

    Waiting calls keep their place (arrival order and time); offered, connected and
    overflowing calls keep their route, checked again soon through the usual offer
    check. Statistics start afresh (the journal keeps the history).
    """
    if board.calls:
        raise RestoreError("restore needs an engine with no live call")
    board.now = max(board.now, now)
    done = Restored()
    for doc in agents:
        done.agents += _guard(done, doc, partial(_agent, board, doc, now))
    for doc in sorted(calls, key=lambda d: (_num(d.get("seq"), 0.0), _num(d.get("arrived_at"), 0))):
        done.calls += _guard(done, doc, partial(_call, board, doc, now, done.commands))
    _release_orphans(board, now, done.commands)
    for queue in board.queues:
        board.dispatch_queue(queue, now, done.commands)
    return done


def _guard(done: Restored, doc: Doc, step: Callable[[], None]) -> bool:
    """Run one document's restore; an unusable document is noted, not fatal."""
    try:
        step()
    except (RestoreError, KeyError, TypeError, ValueError) as err:
        done.skipped.append((str(doc.get("id")), str(err) or type(err).__name__))
        return False
    return True


def _num(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return default


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _agent(board: Board, doc: Doc, now: float) -> None:
    agent = board.agents.get(AgentId(str(doc["id"])))
    if agent is None:
        raise RestoreError("agent no longer configured")
    state = AgentState(doc["state"])
    agent.since = _num(doc.get("since"), now)
    agent.idle_since = _num(doc.get("idle_since"), now)
    agent.calls = int(doc.get("calls") or 0)
    agent.talk_s = _num(doc.get("talk_s"), 0.0)
    agent.pause_reason = _opt_str(doc.get("pause_reason")) if state is AgentState.PAUSED else None
    agent.pending_pause = _opt_str(doc.get("pending_pause"))
    agent.pending_logout = bool(doc.get("pending_logout"))
    agent.device_busy = bool(doc.get("device_busy"))
    agent.backoff = bool(doc.get("backoff"))
    agent.backoff_until = _num(doc.get("backoff_until"), 0.0)
    agent.call = None  # attached again by its call's document
    agent.last_offer_seq = int(doc.get("last_offer_seq", -1))
    board.offer_seq = max(board.offer_seq, agent.last_offer_seq)
    _set_state(agent, state)
    agent.token += 1
    if state is AgentState.WRAPUP:
        wrapup = agent.spec.wrapup_s
        if wrapup is None:
            wrapup = min((board.queues[q].wrapup_s for q in agent.penalties), default=0.0)
        board.deadlines.add(max(now, agent.since + wrapup), Due.WRAPUP_END, agent.id, agent.token)
    pause_s = board.spec.no_answer_pause_s
    if state is AgentState.PAUSED and agent.pause_reason == "no-answer" and pause_s is not None:
        board.deadlines.add(max(now, agent.since + pause_s), Due.UNPAUSE, agent.id, agent.token)
    if agent.backoff:
        board.deadlines.add(max(now, agent.backoff_until), Due.BACKOFF_END, agent.id, 0)
    board.routability_changed(agent)


def _set_state(agent: Agent, state: AgentState) -> None:
    """Put an agent in ``state`` without a move (a restore is not a transition)."""
    for counts in agent.tallies:
        counts[agent.state] -= 1
        counts[state] += 1
    agent.state = state


def _call(board: Board, doc: Doc, now: float, out: Out) -> None:
    state = CallState(doc["state"])
    cid = CallId(str(doc["id"]))
    if state in TERMINAL_CALL_STATES:
        raise RestoreError(f"call already {state.value}")
    dept = board.depts.get(DeptId(str(doc["dept"])))
    queue = board.queues.get(QueueId(str(doc["queue"])))
    if dept is None or queue is None or queue.id not in dept.queues:
        _unplaceable(board, cid, state, doc, out)
        return
    pclass = (
        board.priorities.get(str(doc.get("priority")))
        or board.priorities[board.spec.default_priority]
    )
    own = tuple(sorted((str(n), int(lv)) for n, lv in doc.get("skills") or ()))
    board.seq += 1
    call = Call(
        id=cid,
        dept=dept.id,
        queue=queue.id,
        priority=pclass.name,
        head_start_s=pclass.head_start_s,
        skills=merge_skills(queue.required_skills, own),
        own_skills=own,
        arrived_at=min(_num(doc["arrived_at"], now), now),
        seq=board.seq,
        caller=str(doc.get("caller") or ""),
        origin=None if doc.get("origin") is None else DeptId(str(doc["origin"])),
        path=tuple(DeptId(str(d)) for d in doc.get("path") or (dept.id,)),
        partner=_opt_str(doc.get("partner")),
        route=None if doc.get("route") is None else RouteId(str(doc["route"])),
        agent=None if doc.get("agent") is None else AgentId(str(doc["agent"])),
        confirmed=bool(doc.get("confirmed")),
        offered_at=None if doc.get("offered_at") is None else _num(doc["offered_at"], now),
        answered_at=None if doc.get("answered_at") is None else _num(doc["answered_at"], now),
        attempts=int(doc.get("attempts") or 0),
    )
    if state is CallState.WAITING:
        call.agent = call.partner = None  # the last route stays: a late reply is recognised
        board.calls[cid] = call
        board.enqueue(call, now)
        return
    if state in _ATTACHED:
        _attach(board, call, _ATTACHED[state])
    elif state is CallState.OVERFLOWING:
        if call.route is None or call.partner is None:
            raise RestoreError("overflowing call without its route or partner")
        board.overflowing[cid] = call.partner
        board.in_flight[call.partner] = board.in_flight.get(call.partner, 0) + 1
    call.state = state
    board.calls[cid] = call
    if state is not CallState.CONNECTED:
        # Whatever happened to the route while nobody watched, ask the PBX soon.
        board.deadlines.add(now + board.spec.offer_guard_s, Due.OFFER_CHECK, cid, call.token)


def _attach(board: Board, call: Call, agent_state: AgentState) -> None:
    """Tie an offered or connected call to its agent, whatever the agent's document said."""
    if call.route is None and agent_state is AgentState.OFFERED:
        raise RestoreError("offered call without its route")
    agent = board.agents.get(call.agent) if call.agent is not None else None
    if agent is None:
        raise RestoreError(f"agent {call.agent} of a {agent_state.value} call is unknown")
    if agent.call is not None and agent.call != call.id:
        raise RestoreError(f"agent {agent.id} is already on {agent.call}")
    _set_state(agent, agent_state)
    agent.call = call.id
    agent.token += 1
    board.routability_changed(agent)


def _unplaceable(board: Board, cid: CallId, state: CallState, doc: Doc, out: Out) -> None:
    """A waiting call the configuration no longer places goes to the dialplan's fallback."""
    if state is not CallState.WAITING:
        raise RestoreError(f"department {doc.get('dept')!r} or queue no longer configured")
    route = board.new_route()
    reason = Reason(rule="restore:unplaced", values=(("dept", str(doc.get("dept"))),))
    board.remember_ended(cid, CallState.FALLBACK)
    out.append(SendToFallback(call=cid, route=route, reason=reason))


def _release_orphans(board: Board, now: float, out: Out) -> None:
    """Agents shown offered or on a call that no restored call claims are free again."""
    reason = Reason(rule="restore:call-gone")
    for agent in board.agents.values():
        if agent.state in (AgentState.OFFERED, AgentState.ON_CALL) and agent.call is None:
            agent.idle_since = now
            board.make_available(agent, now, reason, out)
