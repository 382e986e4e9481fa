"""The ACD engine: ``handle(event, now) -> commands``; pure, deterministic, time passed in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from acd.core import events as ev
from acd.core.board import Out
from acd.core.calls import CallFlow
from acd.core.commands import Command, Reason, VerifyRoute
from acd.core.entraide import PartnerLoad
from acd.core.errors import InvalidSpec, UnknownQueue
from acd.core.forced import Forcing
from acd.core.ids import AgentId, CallId, DeptId, QueueId
from acd.core.model import AgentView, Call, CallView
from acd.core.overflow import OverflowSpec
from acd.core.restore import Restored, agent_doc, call_doc, restore
from acd.core.spec import EngineSpec
from acd.core.states import CallState
from acd.core.stats import QueueStats, snapshot
from acd.core.timers import Due

# Module constants: an enum class attribute lookup costs about twenty times a global.
_WRAPUP_END: Final = Due.WRAPUP_END
_UNPAUSE: Final = Due.UNPAUSE
_OVERFLOW_EVAL: Final = Due.OVERFLOW_EVAL
_BACKOFF_END: Final = Due.BACKOFF_END
_OFFER_CHECK: Final = Due.OFFER_CHECK
_MAX_WAIT: Final = Due.MAX_WAIT
_WRAPUP_ENDED: Final = Reason(rule="agent:wrap-up-end")
_PAUSE_ENDED: Final = Reason(rule="agent:auto-unpause")


class Engine(CallFlow, Forcing):
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
            ev.OverflowConfirmed: self._overflow_confirmed,
            ev.OverflowFailed: self._overflow_failed,
            ev.PartnerLoadReported: self._partner_load,
            ev.CrisisModeSet: self._crisis,
            ev.OverflowForced: self.force_overflow,
            ev.Tick: self._tick,
        }

    def handle(self, event: ev.Event, now: float) -> list[Command]:
        """Apply one event at time ``now`` and return the commands it implies, in order."""
        if now < self.now:  # noqa: PLR1730 - never back in time; max() costs ~3 % of an event
            now = self.now
        self.now = now
        out: Out = []
        self._handlers[type(event)](event, now, out)
        if self.rules_by_dept and not self.eval_pending:
            self.schedule_evaluation(now)
        return out

    def reconfigure_overflow(self, overflow: OverflowSpec, now: float) -> None:
        """Replace the overflow rules and partners at once (hot reload); calls keep state.

        The new rules decide from the next evaluation on, one period after ``now``. Rules
        naming a department or partner this engine does not have are refused whole
        (``InvalidSpec``), and the running rules stay: departments change at a restart.
        """
        externals = {p.id for p in overflow.partners}
        problems = [
            f"rule {r.id}: department {name} is not running here"
            for r in overflow.rules
            for name in (r.dept, *r.partners)
            if name not in self.depts and name not in externals
        ]
        if problems:
            raise InvalidSpec("; ".join(problems))
        self.set_overflow(overflow)
        self.schedule_evaluation(max(now, self.now))

    def next_deadline(self) -> float | None:
        """When the engine next needs a :class:`Tick`, or ``None`` when nothing is due."""
        return self.deadlines.next(self.deadline_valid)

    # -- hot state ---------------------------------------------------------------------

    def call_doc(self, cid: CallId) -> dict[str, Any] | None:
        """A live call as the hot state keeps it; ``None`` once it ended."""
        call = self.calls.get(cid)
        return None if call is None else call_doc(call)

    def agent_doc(self, aid: AgentId) -> dict[str, Any]:
        """An agent as the hot state keeps it."""
        return agent_doc(self._agent(aid))

    def restore(
        self, calls: list[Mapping[str, Any]], agents: list[Mapping[str, Any]], now: float
    ) -> Restored:
        """Resume from hot-state documents (a fresh engine only); see :mod:`acd.core.restore`."""
        done = restore(self, calls, agents, now)
        if self.rules_by_dept:
            self.schedule_evaluation(max(now, self.now))
        return done

    # -- queries -----------------------------------------------------------------------

    def call(self, cid: CallId) -> CallView | None:
        """A live call, or ``None`` once it ended (see :meth:`call_state`)."""
        call = self.calls.get(cid)
        return None if call is None else CallView.of(call)

    def call_state(self, cid: CallId) -> CallState | None:
        """A call's state, live or recently terminal; ``None`` if unknown."""
        call = self.calls.get(cid)
        return call.state if call is not None else self.ended.get(cid)

    def live_calls(self) -> list[CallView]:
        """Every call not yet in a terminal state."""
        return [CallView.of(c) for c in self.calls.values()]

    def agent(self, aid: AgentId) -> AgentView:
        """An agent's current picture."""
        return AgentView.of(self._agent(aid))

    def waiting_calls(self, queue: QueueId) -> list[CallView]:
        """The queue's waiting calls in serving order."""
        return [CallView.of(c) for c in self.waiting[queue].ordered(self.calls)]

    def queue_stats(self, queue: QueueId, now: float) -> QueueStats:
        """A snapshot of one queue's figures."""
        if queue not in self.queues:
            raise UnknownQueue(f"unknown queue {queue!r}")
        return snapshot(
            id=queue,
            counters=self.counters_q[queue],
            waiting=self.waiting[queue].count,
            oldest_arrival=self.waiting[queue].oldest_arrival(self.calls),
            agents_by_state=self.by_state_q[queue],
            now=now,
        )

    def dept_stats(self, dept: DeptId, now: float) -> QueueStats:
        """A snapshot of one department's figures (all its queues)."""
        spec = self.depts.get(dept)
        if spec is None:
            raise UnknownQueue(f"unknown department {dept!r}")
        oldest = [self.waiting[q].oldest_arrival(self.calls) for q in spec.queues]
        return snapshot(
            id=dept,
            counters=self.counters_d[dept],
            waiting=sum(self.waiting[q].count for q in spec.queues),
            oldest_arrival=min((t for t in oldest if t is not None), default=None),
            agents_by_state=self.by_state_d[dept],
            now=now,
        )

    # -- entraide inputs ---------------------------------------------------------------

    def _partner_load(self, e: ev.PartnerLoadReported, now: float, out: Out) -> None:
        self.partner_loads[e.partner] = PartnerLoad(
            waiting=e.waiting,
            available_agents=e.available_agents,
            estimated_wait_s=e.estimated_wait_s,
            at=min(e.at, now),
        )

    def _crisis(self, e: ev.CrisisModeSet, now: float, out: Out) -> None:
        if e.dept not in self.depts:
            raise UnknownQueue(f"unknown department {e.dept!r}")
        if e.on:
            self.crisis.add(e.dept)
        else:
            self.crisis.discard(e.dept)
        self.evaluate_dept(e.dept, now, out)

    # -- time --------------------------------------------------------------------------

    def _tick(self, e: ev.Tick, now: float, out: Out) -> None:
        deadlines = self.deadlines
        valid = self.deadline_valid
        while (due := deadlines.pop_due(now)) is not None:
            _, _, kind, subject, token = due
            if valid(kind, subject, token):
                self._fire(kind, subject, now, out)

    def _fire(self, kind: Due, subject: str, now: float, out: Out) -> None:
        if kind is _WRAPUP_END:
            agent = self.agents[AgentId(subject)]
            agent.idle_since = now
            self.make_available(agent, now, _WRAPUP_ENDED, out)
        elif kind is _UNPAUSE:
            agent = self.agents[AgentId(subject)]
            agent.idle_since = now
            self.make_available(agent, now, _PAUSE_ENDED, out)
        elif kind is _OVERFLOW_EVAL:
            self.evaluate_all(now, out)
        elif kind is _BACKOFF_END:
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
        if kind is _OFFER_CHECK:
            waited = round(now - (call.offered_at or now), 3)
            reason = Reason(
                rule="offer:unconfirmed",
                values=(("offered_s", waited), ("confirmed", call.confirmed)),
            )
            assert call.route is not None  # an offered call always has its route
            overflow = call.state is CallState.OVERFLOWING
            out.append(
                VerifyRoute(call=call.id, route=call.route, reason=reason, overflow=overflow)
            )
            self.deadlines.add(now + self.spec.offer_guard_s, _OFFER_CHECK, call.id, call.token)
        elif kind is _MAX_WAIT:
            wait = round(now - call.arrived_at, 3)
            reason = Reason(
                rule="limit:max-wait", values=(("wait_s", wait), ("max_wait_s", queue.max_wait_s))
            )
            self.fallback(call, now, reason, out)
        else:  # a penalty step: the call may now reach more agents
            self.schedule_penalty_step(call, queue, now)
            self.dispatch_queue(call.queue, now, out)
