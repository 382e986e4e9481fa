"""The ACD engine: ``handle(event, now) -> commands``; pure, deterministic, time passed in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acd.core import events as ev
from acd.core.board import Board, Out
from acd.core.commands import Command, Reason, VerifyRoute
from acd.core.errors import (
    DuplicateCall,
    IllegalTransition,
    UnknownAgent,
    UnknownCall,
    UnknownQueue,
)
from acd.core.ids import AgentId, CallId, QueueId
from acd.core.model import Agent, AgentView, Call, CallView, merge_skills
from acd.core.spec import EngineSpec
from acd.core.states import AgentState, CallState
from acd.core.timers import Due

_NO_ANSWER = Reason(rule="agent:ring-no-answer")


class Engine(Board):
    """Routes calls to agents; every event yields the commands it implies, with reasons.

    Deadlines (offer checks, wrap-up ends, penalty widening, maximum waits) are stored as
    data: the runtime reads :meth:`next_deadline` and sends :class:`~acd.core.events.Tick`
    then. An event that would break a state table raises and changes nothing. Time never
    goes backwards: an earlier ``now`` than already seen is taken as the latest one.
    """

    def __init__(self, spec: EngineSpec, *, route_prefix: str = "r") -> None:
        super().__init__(spec, route_prefix=route_prefix)
        self._handlers: dict[type[Any], Callable[[Any, float, Out], None]] = {
            ev.CallArrived: self._arrived,
            ev.RouteConfirmed: self._route_confirmed,
            ev.CallAnswered: self._answered,
            ev.RouteFailed: self._route_failed,
            ev.CallHungUp: self._hung_up,
            ev.CallFellBack: self._fell_back,
            ev.AgentLoggedIn: self._logged_in,
            ev.AgentLoggedOut: self._logged_out,
            ev.AgentPaused: self._paused,
            ev.AgentUnpaused: self._unpaused,
            ev.AgentDeviceChanged: self._device_changed,
            ev.Tick: self._tick,
        }

    def handle(self, event: ev.Event, now: float) -> list[Command]:
        """Apply one event at time ``now`` and return the commands it implies, in order."""
        now = max(now, self.now)
        self.now = now
        out: Out = []
        self._handlers[type(event)](event, now, out)
        return out

    def next_deadline(self) -> float | None:
        """When the engine next needs a :class:`Tick`, or ``None`` when nothing is due."""
        return self.deadlines.next(self.deadline_valid)

    # -- queries -----------------------------------------------------------------------

    def call(self, cid: CallId) -> CallView | None:
        """A live call, or ``None`` once it ended (see :meth:`call_state`)."""
        call = self.calls.get(cid)
        return None if call is None else CallView.of(call)

    def call_state(self, cid: CallId) -> CallState | None:
        """A call's state, live or recently terminal; ``None`` if unknown."""
        call = self.calls.get(cid)
        return call.state if call is not None else self.ended.get(cid)

    def agent(self, aid: AgentId) -> AgentView:
        """An agent's current picture."""
        return AgentView.of(self._agent(aid))

    def waiting_calls(self, queue: QueueId) -> list[CallView]:
        """The queue's waiting calls in serving order."""
        return [CallView.of(c) for c in self.waiting[queue].ordered(self.calls)]

    # -- lookups -----------------------------------------------------------------------

    def _agent(self, aid: AgentId) -> Agent:
        agent = self.agents.get(aid)
        if agent is None:
            raise UnknownAgent(f"unknown agent {aid!r}")
        return agent

    def _live(self, cid: CallId) -> Call | None:
        """The live call, ``None`` if it already ended (late event), else raise."""
        call = self.calls.get(cid)
        if call is None and cid not in self.ended:
            raise UnknownCall(f"unknown call {cid!r}")
        return call

    def _offered(self, cid: CallId, route: str) -> Call | None:
        """The call if ``route`` is its current offer; ``None`` for a stale or late event."""
        call = self._live(cid)
        if call is None or call.state is not CallState.OFFERED or call.route != route:
            return None
        return call

    # -- calls -------------------------------------------------------------------------

    def _arrived(self, e: ev.CallArrived, now: float, out: Out) -> None:
        if e.call in self.calls:
            raise DuplicateCall(f"call {e.call!r} is already live")
        if e.call in self.ended:
            return  # a replay of a call that already ended: nothing to do
        dept = self.depts.get(e.dept)
        if dept is None:
            raise UnknownQueue(f"unknown department {e.dept!r}")
        qid = e.queue if e.queue is not None else dept.queues[0]
        if qid not in dept.queues:
            raise UnknownQueue(f"queue {qid!r} is not a queue of department {e.dept!r}")
        queue = self.queues[qid]
        pclass = self.spec.priority(e.priority or self.spec.default_priority)
        values: list[tuple[str, str | int | float | bool | None]] = []
        if pclass is None:
            values.append(("unknown_priority", e.priority))
            pclass = self.spec.priority(self.spec.default_priority)
            assert pclass is not None  # checked when the engine was built
        arrived = now if e.enqueued_at is None else min(e.enqueued_at, now)
        self.seq += 1
        call = Call(
            id=e.call,
            dept=e.dept,
            queue=qid,
            priority=pclass.name,
            head_start_s=pclass.head_start_s,
            skills=merge_skills(queue.required_skills, tuple(sorted(e.skills))),
            arrived_at=arrived,
            seq=self.seq,
            caller=e.caller,
            origin=e.origin,
        )
        self.calls[call.id] = call
        self.enqueue(call, now)
        for counters in (self.counters_q[qid], self.counters_d[e.dept]):
            counters.entered += 1
            if e.origin is not None:
                counters.overflowed_in += 1
        values += [("queue", qid), ("priority", pclass.name), ("origin", e.origin)]
        out.append(self.record(call, None, now, Reason(rule="call:arrived", values=tuple(values))))
        limit = self._limit(call, now)
        if limit is not None:
            self.fallback(call, now, limit, out)
        else:
            self.dispatch_queue(qid, now, out)

    def _limit(self, call: Call, now: float) -> Reason | None:
        """The queue limit a newly arrived call breaks, if any."""
        q = self.queues[call.queue]
        logged_in = self.logged_in(q.id)
        if not q.join_empty and logged_in == 0:
            return Reason(rule="limit:join-empty", values=(("queue", q.id), ("logged_in", 0)))
        waiting = self.waiting[q.id].count
        if q.max_length is not None and waiting > q.max_length:
            return Reason(
                rule="limit:max-length",
                values=(("queue", q.id), ("waiting", waiting - 1), ("max_length", q.max_length)),
            )
        wait = now - call.arrived_at
        if q.max_wait_s is not None and wait >= q.max_wait_s:
            return Reason(
                rule="limit:max-wait",
                values=(("queue", q.id), ("wait_s", round(wait, 3)), ("max_wait_s", q.max_wait_s)),
            )
        return None

    def _route_confirmed(self, e: ev.RouteConfirmed, now: float, out: Out) -> None:
        call = self._offered(e.call, e.route)
        if call is not None:
            call.confirmed = True

    def _answered(self, e: ev.CallAnswered, now: float, out: Out) -> None:
        call = self._offered(e.call, e.route)
        if call is None:
            return
        agent = self.agents[AgentId(str(call.agent))]
        wait = now - call.arrived_at
        reason = Reason(rule="call:answered", values=(("wait_s", round(wait, 3)),))
        call.answered_at = now
        call.confirmed = True
        self.call_to(call, CallState.CONNECTED, now, reason, out)
        agent.calls += 1
        self.agent_to(agent, AgentState.ON_CALL, now, reason, out)
        self.counters_q[call.queue].on_answered(wait, now)
        self.counters_d[call.dept].on_answered(wait, now)

    def _route_failed(self, e: ev.RouteFailed, now: float, out: Out) -> None:
        call = self._offered(e.call, e.route)
        if call is None:
            return
        agent = self.agents[AgentId(str(call.agent))]
        reason = Reason(rule=f"route-failed:{e.cause}", values=(("agent", agent.id),))
        call.agent = None
        self.call_to(call, CallState.WAITING, now, reason, out)
        self._release_after_failure(agent, e.cause, now, out)
        self.dispatch_queue(call.queue, now, out)

    def _release_after_failure(
        self, agent: Agent, cause: ev.RouteFailure, now: float, out: Out
    ) -> None:
        """Free the agent a route failed to reach; pause or hold back as the cause says."""
        if cause is ev.RouteFailure.NO_ANSWER and self.spec.no_answer_pause:
            agent.call = None
            if agent.pending_logout:
                self.make_available(agent, now, _NO_ANSWER, out)
                return
            agent.pause_reason = "no-answer"
            agent.pending_pause = None
            self.agent_to(agent, AgentState.PAUSED, now, _NO_ANSWER, out)
            if self.spec.no_answer_pause_s is not None:
                at = now + self.spec.no_answer_pause_s
                self.deadlines.add(at, Due.UNPAUSE, agent.id, agent.token)
            return
        if cause is not ev.RouteFailure.REFUSED:
            # Busy, unreachable or unanswered phone: not rung again before the retry delay.
            agent.backoff = True
            agent.backoff_until = now + self.spec.busy_retry_s
            self.deadlines.add(agent.backoff_until, Due.BACKOFF_END, agent.id, 0)
        self.make_available(agent, now, Reason(rule=f"route-failed:{cause}"), out)

    def _hung_up(self, e: ev.CallHungUp, now: float, out: Out) -> None:
        call = self._live(e.call)
        if call is None:
            return  # already terminal: a hangup is idempotent
        if call.state is CallState.CONNECTED:
            self._call_ended(call, now, out)
            return
        if call.state is CallState.OVERFLOWING:
            raise IllegalTransition(f"call {call.id}: overflow is not handled by this engine")
        wait = now - call.arrived_at
        short = wait < self.depts[call.dept].short_abandon_s
        reason = Reason(
            rule="call:abandoned",
            values=(("wait_s", round(wait, 3)), ("short", short), ("state", call.state.value)),
        )
        agent_id = call.agent if call.state is CallState.OFFERED else None
        self.call_to(call, CallState.ABANDONED, now, reason, out)
        self.counters_q[call.queue].on_abandoned(short=short, now=now)
        self.counters_d[call.dept].on_abandoned(short=short, now=now)
        if agent_id is not None:
            self.make_available(self.agents[agent_id], now, reason, out)

    def _call_ended(self, call: Call, now: float, out: Out) -> None:
        agent = self.agents[AgentId(str(call.agent))]
        talk = now - (call.answered_at if call.answered_at is not None else now)
        wrapup = agent.spec.wrapup_s
        if wrapup is None:
            wrapup = self.queues[call.queue].wrapup_s
        reason = Reason(rule="call:ended", values=(("talk_s", round(talk, 3)),))
        self.call_to(call, CallState.ENDED, now, reason, out)
        agent.talk_s += talk
        self.counters_q[call.queue].on_handled(talk + wrapup)
        self.counters_d[call.dept].on_handled(talk + wrapup)
        if wrapup > 0 and not agent.pending_logout and agent.pending_pause is None:
            agent.call = None
            self.agent_to(agent, AgentState.WRAPUP, now, reason, out)
            self.deadlines.add(now + wrapup, Due.WRAPUP_END, agent.id, agent.token)
        else:
            agent.idle_since = now
            self.make_available(agent, now, reason, out)

    def _fell_back(self, e: ev.CallFellBack, now: float, out: Out) -> None:
        call = self._live(e.call)
        if call is None:
            return
        reason = Reason(rule="dialplan:fallback", values=(("state", call.state.value),))
        agent = None
        if call.state is CallState.OFFERED:
            # The route's failure was missed: the dialplan says the caller is back in the
            # waiting loop and gone to fallback. Record both moves, then free the agent.
            agent = self.agents[AgentId(str(call.agent))]
            call.agent = None
            self.call_to(call, CallState.WAITING, now, reason, out)
        self.call_to(call, CallState.FALLBACK, now, reason, out)
        if agent is not None:
            self.make_available(agent, now, reason, out)
        self.counters_q[call.queue].fallback += 1
        self.counters_d[call.dept].fallback += 1

    # -- agents ------------------------------------------------------------------------

    def _logged_in(self, e: ev.AgentLoggedIn, now: float, out: Out) -> None:
        agent = self._agent(e.agent)
        if agent.state is not AgentState.LOGGED_OUT:
            agent.pending_logout = False
            return
        agent.idle_since = now
        self.make_available(agent, now, Reason(rule="agent:login"), out)

    def _logged_out(self, e: ev.AgentLoggedOut, now: float, out: Out) -> None:
        agent = self._agent(e.agent)
        if agent.state is AgentState.LOGGED_OUT:
            return
        if agent.state in (AgentState.OFFERED, AgentState.ON_CALL):
            agent.pending_logout = True
            return
        self.agent_to(agent, AgentState.LOGGED_OUT, now, Reason(rule="agent:logout"), out)
        agent.pending_pause = None
        self.after_logout(agent, now, out)

    def _paused(self, e: ev.AgentPaused, now: float, out: Out) -> None:
        agent = self._agent(e.agent)
        state = agent.state
        reason = Reason(rule="agent:pause", values=(("pause_reason", e.reason),))
        if state in (AgentState.OFFERED, AgentState.ON_CALL):
            agent.pending_pause = e.reason
        elif state is AgentState.PAUSED:
            agent.pause_reason = e.reason
        else:
            check_logged_in(agent)
            agent.pause_reason = e.reason
            self.agent_to(agent, AgentState.PAUSED, now, reason, out)

    def _unpaused(self, e: ev.AgentUnpaused, now: float, out: Out) -> None:
        agent = self._agent(e.agent)
        agent.pending_pause = None
        if agent.state is AgentState.PAUSED:
            agent.idle_since = now
            self.make_available(agent, now, Reason(rule="agent:unpause"), out)

    def _device_changed(self, e: ev.AgentDeviceChanged, now: float, out: Out) -> None:
        agent = self._agent(e.agent)
        if agent.device_busy == e.busy:
            return
        agent.device_busy = e.busy
        self.routability_changed(agent)
        if agent.routable:
            self.dispatch_agent(agent, now, out)

    # -- time --------------------------------------------------------------------------

    def _tick(self, e: ev.Tick, now: float, out: Out) -> None:
        while (due := self.deadlines.pop_due(now)) is not None:
            _, _, kind, subject, token = due
            if self.deadline_valid(kind, subject, token):
                self._fire(kind, subject, now, out)

    def _fire(self, kind: Due, subject: str, now: float, out: Out) -> None:
        if kind is Due.WRAPUP_END:
            agent = self.agents[AgentId(subject)]
            agent.idle_since = now
            self.make_available(agent, now, Reason(rule="agent:wrap-up-end"), out)
        elif kind is Due.UNPAUSE:
            agent = self.agents[AgentId(subject)]
            agent.idle_since = now
            self.make_available(agent, now, Reason(rule="agent:auto-unpause"), out)
        elif kind is Due.BACKOFF_END:
            agent = self.agents[AgentId(subject)]
            if now >= agent.backoff_until:
                agent.backoff = False
                self.routability_changed(agent)
                if agent.routable:
                    self.dispatch_agent(agent, now, out)
        else:
            self._fire_call(kind, self.calls[CallId(subject)], now, out)

    def _fire_call(self, kind: Due, call: Call, now: float, out: Out) -> None:
        queue = self.queues[call.queue]
        if kind is Due.OFFER_CHECK:
            waited = round(now - (call.offered_at or now), 3)
            reason = Reason(
                rule="offer:unconfirmed",
                values=(("offered_s", waited), ("confirmed", call.confirmed)),
            )
            assert call.route is not None  # an offered call always has its route
            out.append(VerifyRoute(call=call.id, route=call.route, reason=reason))
            self.deadlines.add(now + self.spec.offer_guard_s, Due.OFFER_CHECK, call.id, call.token)
        elif kind is Due.MAX_WAIT:
            wait = round(now - call.arrived_at, 3)
            reason = Reason(
                rule="limit:max-wait", values=(("wait_s", wait), ("max_wait_s", queue.max_wait_s))
            )
            self.fallback(call, now, reason, out)
        else:  # a penalty step: the call may now reach more agents
            self.schedule_penalty_step(call, queue, now)
            self.dispatch_queue(call.queue, now, out)


def check_logged_in(agent: Agent) -> None:
    """Raise unless the agent is logged in (a logged-out agent cannot pause)."""
    if agent.state is AgentState.LOGGED_OUT:
        raise IllegalTransition(f"agent {agent.id}: cannot pause while logged out")
