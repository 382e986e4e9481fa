"""Entraide's side of the board: the figures overflow reads, and the moves it makes.

A department's figures for its rules' conditions, partners' loads for the look-ahead,
the waiting calls a rule may send, and the two ways a call leaves for a partner.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from itertools import islice

from acd.core.board import Board, Out
from acd.core.commands import MoveCall, OverflowCall, Reason
from acd.core.conditions import OLDEST, WAITING, Figures, figures_load
from acd.core.ids import DeptId, QueueId
from acd.core.lookahead import BLIND, KNOWN, UNKNOWN, PartnerLoad, Reading
from acd.core.model import Call, merge_skills
from acd.core.overflow import DeptLoad, ExternalPartner, OverflowRule, OverflowSpec, Select
from acd.core.ruleplan import DeptPlan, PartnerRef, PreparedRule
from acd.core.spec import EngineSpec
from acd.core.states import AgentState, CallState
from acd.core.stats import estimated_wait
from acd.core.timers import Due

# Plain names for the states counted: an enum member read through its class costs more.
_AVAILABLE, _OFFERED, _ON_CALL = AgentState.AVAILABLE, AgentState.OFFERED, AgentState.ON_CALL
_WRAPUP, _PAUSED = AgentState.WRAPUP, AgentState.PAUSED
NEVER = float("-inf")
_INF = float("inf")


class Partners(Board):
    """Reads figures and loads for the rules; sends calls to partners."""

    overflow: OverflowSpec
    externals: dict[str, ExternalPartner]
    plans: dict[DeptId, DeptPlan]
    """Set with the rules (see ``Entraide.set_overflow``)."""

    def __init__(self, spec: EngineSpec, *, route_prefix: str = "r") -> None:
        super().__init__(spec, route_prefix=route_prefix)
        self.crisis: set[DeptId] = set()
        self.partner_loads: dict[str, PartnerLoad] = {}
        self.refused_until: dict[str, float] = {}
        self.round_loads: dict[str, Reading] | None = None
        """Partners read in the periodic round in progress (``None`` outside one)."""

    # -- figures and loads ---------------------------------------------------------------

    def dept_load(self, dept: DeptId, now: float) -> DeptLoad:
        """The figures a rule's conditions read about ``dept``, now."""
        plan = self.plans.get(dept)
        read = plan.windows if plan is not None else ()
        return figures_load(self._figures(dept, self.depts[dept].queues, read, now))

    def _figures(
        self, dept: DeptId, queues: tuple[QueueId, ...], read: tuple[int, ...], now: float
    ) -> Figures:
        """The department's figures (see :data:`acd.core.conditions.Figures`), with the
        service level of every window in ``read``."""
        counts = self.by_state_d[dept]
        if len(queues) == 1:
            queue = self.waiting[queues[0]]
            waiting = queue.count
            first = queue.oldest_arrival(self.calls)
        else:
            waiting = sum(self.waiting[q].count for q in queues)
            oldest = [self.waiting[q].oldest_arrival(self.calls) for q in queues]
            first = min((t for t in oldest if t is not None), default=None)
        available = counts[_AVAILABLE]
        serving = available + counts[_OFFERED] + counts[_ON_CALL] + counts[_WRAPUP]
        counters = self.counters_d[dept]
        levels: dict[int, float | None] = {}
        for minutes in read:
            answered, within, abandoned = counters.window(now, minutes)
            total = answered + abandoned
            levels[minutes] = within / total if total else None
        ewt = estimated_wait(waiting, serving, available, counters.aht_s)
        return (
            waiting,
            0.0 if first is None else now - first,
            ewt,
            _INF if ewt is None else ewt,
            available,
            serving + counts[_PAUSED],
            levels,
            dept in self.crisis,
        )

    def partner_load(self, partner: str, now: float) -> PartnerLoad | None:
        """An internal department's live load, or an external one's fresh published load."""
        dept = DeptId(partner)
        if dept not in self.depts:
            load = self.partner_loads.get(partner)
            if load is None or now - load.at > self.overflow.partner_load_ttl_s:
                return None
            return load
        ref = PartnerRef(id=partner, dept=dept, queues=self.depts[dept].queues, external=None)
        waiting, available, ewt = self._read(ref, now)[:3]
        return PartnerLoad(
            waiting=waiting, available_agents=available, estimated_wait_s=ewt, at=now
        )

    def _read(self, partner: PartnerRef, now: float) -> Reading:
        """A partner as the look-ahead first reads it in an evaluation (once per round).

        Its load, live for a department of this platform, else the one it published
        (unknown after ``partner_load_ttl_s``); an external partner is charged with every
        call on its way to it, not only those of this evaluation: its published load
        cannot show them yet. Nothing read here changes until a call is sent, which
        starts a new reading (see :meth:`send_to_partner`).
        """
        pid, dept = partner.id, partner.dept
        sent = 0 if partner.external is None else self.in_flight.get(pid, 0)
        refused = bool(self.refused_until) and self.refused_until.get(pid, NEVER) > now
        if dept is not None:
            counts = self.by_state_d[dept]
            queues = partner.queues
            if len(queues) == 1:
                waiting = self.waiting[queues[0]].count
            else:
                waiting = sum(self.waiting[q].count for q in queues)
            available = counts[_AVAILABLE]
            serving = available + counts[_OFFERED] + counts[_ON_CALL] + counts[_WRAPUP]
            ewt = estimated_wait(waiting, serving, available, self.counters_d[dept].aht_s)
            return waiting, available, ewt, True, sent, refused, KNOWN
        load = self.partner_loads.get(pid)
        if load is None or now - load.at > self.overflow.partner_load_ttl_s:
            return 0, 0, None, True, sent, refused, BLIND if partner.blind else UNKNOWN
        waiting, available = load.waiting, load.available_agents
        exact = type(waiting) is int and type(available) is int
        return waiting, available, load.estimated_wait_s, exact, sent, refused, KNOWN

    # -- calls that may leave ------------------------------------------------------------

    def _has_candidate(self, rule: PreparedRule, f: Figures, now: float) -> bool:
        """Whether some waiting call may leave under this rule (without ordering them)."""
        if rule.priorities is None:
            return f[WAITING] > 0 and f[OLDEST] >= rule.min_wait_s
        return next(self._candidates(rule.rule, now), None) is not None

    def _candidates(self, rule: OverflowRule, now: float) -> Iterator[Call]:
        """The department's waiting calls this rule may send, in its order, lazily."""
        queues = self.depts[rule.dept].queues
        if rule.select is Select.OLDEST:
            merged: Iterator[Call] = heapq.merge(
                *(self.waiting[q].by_arrival(self.calls) for q in queues),
                key=lambda c: (c.arrived_at, c.seq),
            )
        else:
            every = [c for q in queues for c in self.waiting[q].ordered(self.calls)]
            every.sort(key=lambda c: (c.arrived_at, c.seq), reverse=True)
            merged = iter(every)
        eligible = (c for c in merged if self._may_leave(rule, c, now))
        return islice(eligible, 4 * rule.max_per_evaluation)

    @staticmethod
    def _may_leave(rule: OverflowRule, call: Call, now: float) -> bool:
        if now - call.arrived_at < rule.min_wait_s:
            return False
        return rule.priorities is None or call.priority in rule.priorities

    # -- moves ---------------------------------------------------------------------------

    def send_to_partner(
        self, call: Call, partner: str, now: float, reason: Reason, out: Out
    ) -> None:
        """Move the call into an internal department's queue, or out to an external SAMU."""
        if self.round_loads is not None:
            # Loads changed: the next departments of the round read them again, while this
            # batch keeps its snapshot and charges it with the calls it sends.
            self.round_loads = {}
        external = self.externals.get(partner)
        if external is None:
            self._move(call, DeptId(partner), now, reason, out)
            return
        call.route = self.new_route()
        call.partner = partner
        self.call_to(call, CallState.OVERFLOWING, now, reason, out)
        self.overflowing[call.id] = partner
        self.in_flight[partner] = self.in_flight.get(partner, 0) + 1
        at = now + self.queues[call.queue].ring_timeout_s + self.spec.offer_guard_s
        self.deadlines.add(at, Due.OFFER_CHECK, call.id, call.token)
        out.append(
            OverflowCall(
                call=call.id,
                route=call.route,
                partner=partner,
                number=external.number,
                trunk=external.trunk,
                reason=reason,
            )
        )

    def _move(self, call: Call, dept: DeptId, now: float, reason: Reason, out: Out) -> None:
        """Entraide inside the platform: the call joins the partner's queue at its place."""
        self.waiting[call.queue].removed(call)
        for counters in (self.counters_q[call.queue], self.counters_d[call.dept]):
            counters.overflowed_out += 1
        target: QueueId = self.depts[dept].queues[0]
        previous_dept = call.dept
        call.token += 1
        call.origin = call.origin or previous_dept
        call.dept = dept
        call.queue = target
        call.path = (*call.path, dept)
        call.skills = merge_skills(self.queues[target].required_skills, call.own_skills)
        for counters in (self.counters_q[target], self.counters_d[dept]):
            counters.overflowed_in += 1
        self.enqueue(call, now)
        out.append(self.record(call, CallState.WAITING, now, reason))
        out.append(MoveCall(call=call.id, dept=dept, reason=reason))
        self.dispatch_queue(target, now, out)
