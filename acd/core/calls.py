"""Calls' moves: arrival and limits, offers confirmed, answered or failed, hang-ups, fallback."""

from __future__ import annotations

from typing import Final

from acd.core import events as ev
from acd.core.agents import AgentFlow
from acd.core.board import Out
from acd.core.commands import Reason, build_reason
from acd.core.errors import DuplicateCall, UnknownCall, UnknownQueue
from acd.core.ids import AgentId, CallId
from acd.core.model import Call, build_call, merge_skills
from acd.core.states import AgentState, CallState
from acd.core.timers import Due

# Module constants: an enum class attribute lookup costs about twenty times a global.
_WAITING: Final = CallState.WAITING
_OFFERED: Final = CallState.OFFERED
_CONNECTED: Final = CallState.CONNECTED
_ENDED: Final = CallState.ENDED
_ABANDONED: Final = CallState.ABANDONED
_ON_CALL: Final = AgentState.ON_CALL
_WRAPUP: Final = AgentState.WRAPUP
_WRAPUP_END: Final = Due.WRAPUP_END


class CallFlow(AgentFlow):
    """Handlers of the call events; a late or stale event about a call changes nothing."""

    def _live(self, cid: CallId) -> Call | None:
        """The live call, ``None`` if it already ended (late event), else raise."""
        call = self.calls.get(cid)
        if call is None and cid not in self.ended:
            raise UnknownCall(f"unknown call {cid!r}")
        return call

    def _offered(self, cid: CallId, route: str) -> Call | None:
        """The call if ``route`` is its current offer; ``None`` for a stale or late event."""
        call = self.calls.get(cid)
        if call is None:
            if cid not in self.ended:
                raise UnknownCall(f"unknown call {cid!r}")
            return None
        if call.state is not _OFFERED or call.route != route:
            return None
        return call

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
        pclass = self.priorities.get(e.priority or self.spec.default_priority)
        values: list[tuple[str, str | int | float | bool | None]] = []
        if pclass is None:
            values.append(("unknown_priority", e.priority))
            pclass = self.priorities[self.spec.default_priority]
        arrived = now if e.enqueued_at is None else min(e.enqueued_at, now)
        own = tuple(sorted(e.skills)) if e.skills else ()
        self.seq += 1
        call = build_call(
            id=e.call,
            dept=e.dept,
            queue=qid,
            priority=pclass.name,
            head_start_s=pclass.head_start_s,
            skills=merge_skills(queue.required_skills, own),
            own_skills=own,
            arrived_at=arrived,
            seq=self.seq,
            caller=e.caller,
            origin=e.origin,
            path=(e.dept,) if e.origin is None else (e.origin, e.dept),
        )
        self.calls[call.id] = call
        token = call.token
        held = self.enqueue_arrival(call, now)
        for counters in (self.counters_q[qid], self.counters_d[e.dept]):
            counters.entered += 1
            if e.origin is not None:
                counters.overflowed_in += 1
        values += [("queue", qid), ("priority", pclass.name), ("origin", e.origin)]
        reason = build_reason(rule="call:arrived", values=tuple(values))
        out.append(self.record(call, None, now, reason))
        limit = self._limit(call, now)
        if limit is not None:
            self.fallback(call, now, limit, out)  # its held deadlines are never added
        else:
            self.dispatch_queue(qid, now, out)
            self.keep_deadlines(call, token, held)
            if call.state is _WAITING and call.dept in self.rules_by_dept:
                self.evaluate_dept(call.dept, now, out)

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
        aid = call.agent
        assert aid is not None  # an offered call always has its agent
        agent = self.agents[aid]
        wait = now - call.arrived_at
        reason = build_reason(rule="call:answered", values=(("wait_s", wait),))
        call.answered_at = now
        call.confirmed = True
        self.call_to(call, _CONNECTED, now, reason, out)
        agent.calls += 1
        self.agent_to(agent, _ON_CALL, now, reason, out)
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
        self.release_after_failure(agent, e.cause, now, out)
        self.dispatch_queue(call.queue, now, out)

    def _hung_up(self, e: ev.CallHungUp, now: float, out: Out) -> None:
        call = self._live(e.call)
        if call is None:
            return  # already terminal: a hangup is idempotent
        if call.state is _CONNECTED:
            self._call_ended(call, now, out)
            return
        wait = now - call.arrived_at
        short = wait < self.depts[call.dept].short_abandon_s
        reason = Reason(
            rule="call:abandoned",
            values=(("wait_s", round(wait, 3)), ("short", short), ("state", call.state.value)),
        )
        agent_id = call.agent if call.state is _OFFERED else None
        call.partner = None
        self.call_to(call, _ABANDONED, now, reason, out)
        self.counters_q[call.queue].on_abandoned(short=short, now=now)
        self.counters_d[call.dept].on_abandoned(short=short, now=now)
        if agent_id is not None:
            self.make_available(self.agents[agent_id], now, reason, out)

    def _call_ended(self, call: Call, now: float, out: Out) -> None:
        aid = call.agent
        assert aid is not None  # a connected call always has its agent
        agent = self.agents[aid]
        talk = now - (call.answered_at if call.answered_at is not None else now)
        wrapup = agent.spec.wrapup_s
        if wrapup is None:
            wrapup = self.queues[call.queue].wrapup_s
        reason = build_reason(rule="call:ended", values=(("talk_s", talk),))
        self.call_to(call, _ENDED, now, reason, out)
        agent.talk_s += talk
        self.counters_q[call.queue].on_handled(talk + wrapup)
        self.counters_d[call.dept].on_handled(talk + wrapup)
        if wrapup > 0 and not agent.pending_logout and agent.pending_pause is None:
            agent.call = None
            self.agent_to(agent, _WRAPUP, now, reason, out)
            self.deadlines.add(now + wrapup, _WRAPUP_END, agent.id, agent.token)
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
        call.partner = None
        self.call_to(call, CallState.FALLBACK, now, reason, out)
        if agent is not None:
            self.make_available(agent, now, reason, out)
        self.counters_q[call.queue].fallback += 1
        self.counters_d[call.dept].fallback += 1

    def _overflow_confirmed(self, e: ev.OverflowConfirmed, now: float, out: Out) -> None:
        call = self._live(e.call)
        if call is None or call.state is not CallState.OVERFLOWING or call.route != e.route:
            return
        reason = Reason(rule="overflow:confirmed", values=(("partner", call.partner),))
        self.call_to(call, CallState.OVERFLOWED, now, reason, out)
        for counters in (self.counters_q[call.queue], self.counters_d[call.dept]):
            counters.overflowed_out += 1

    def _overflow_failed(self, e: ev.OverflowFailed, now: float, out: Out) -> None:
        call = self._live(e.call)
        if call is None or call.state is not CallState.OVERFLOWING or call.route != e.route:
            return
        partner = call.partner or ""
        self.refused_until[partner] = now + self.overflow.partner_retry_s
        reason = Reason(
            rule=f"overflow-failed:{e.cause}",
            values=(("partner", partner), ("retry_after_s", self.overflow.partner_retry_s)),
        )
        call.partner = None
        self.call_to(call, CallState.WAITING, now, reason, out)
        self.dispatch_queue(call.queue, now, out)
