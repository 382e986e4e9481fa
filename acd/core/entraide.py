"""Entraide: overflow rules evaluated in order, look-ahead on partners, calls keep their place."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import islice

from acd.core.board import Board, Out
from acd.core.commands import OverflowCall, OverflowHeld, Reason, RuleChanged, Value
from acd.core.ids import DeptId, QueueId
from acd.core.model import Call, merge_skills
from acd.core.overflow import (
    DeptLoad,
    ExternalPartner,
    OverflowRule,
    OverflowSpec,
    Seen,
    Select,
    holds,
    windows,
)
from acd.core.spec import EngineSpec
from acd.core.states import AgentState, CallState
from acd.core.stats import estimated_wait
from acd.core.timers import Due


@dataclass(slots=True)
class RuleState:
    """Whether a rule is active, and since when (for hysteresis and cooldown)."""

    active: bool = False
    changed_at: float = float("-inf")


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerLoad:
    """A partner's load as the look-ahead sees it (``at``: when it was measured)."""

    waiting: int
    available_agents: int
    estimated_wait_s: float | None
    at: float


class Entraide(Board):
    """Adds overflow to the board: rule states, partner loads, crisis modes, evaluation."""

    def __init__(self, spec: EngineSpec, *, route_prefix: str = "r") -> None:
        super().__init__(spec, route_prefix=route_prefix)
        self.crisis: set[DeptId] = set()
        self.partner_loads: dict[str, PartnerLoad] = {}
        self.refused_until: dict[str, float] = {}
        self.rule_states: dict[str, RuleState] = {}
        self.eval_token = 0
        self.eval_pending = False
        self.set_overflow(spec.overflow)

    def set_overflow(self, overflow: OverflowSpec) -> None:
        """Replace the rules at once; a rule keeping its id keeps its state (hysteresis)."""
        self.overflow = overflow
        self.externals: dict[str, ExternalPartner] = {p.id: p for p in overflow.partners}
        self.rules_by_dept: dict[DeptId, list[OverflowRule]] = {}
        for rule in overflow.rules:
            self.rules_by_dept.setdefault(rule.dept, []).append(rule)
        self.rule_states = {r.id: self.rule_states.get(r.id, RuleState()) for r in overflow.rules}
        self.sl_windows = {
            d: sorted(set().union(*(windows(r.when) | windows(r.until) for r in rules)))
            for d, rules in self.rules_by_dept.items()
        }
        self.eval_token += 1
        self.eval_pending = False

    def deadline_valid(self, kind: Due, subject: str, token: int) -> bool:
        """The periodic evaluation is valid while the rules it was set for are in force."""
        if kind is Due.OVERFLOW_EVAL:
            return token == self.eval_token
        return super().deadline_valid(kind, subject, token)

    def schedule_evaluation(self, now: float) -> None:
        """Keep one periodic evaluation deadline while there are rules."""
        if self.rules_by_dept and not self.eval_pending:
            self.eval_pending = True
            at = now + self.overflow.evaluate_every_s
            self.deadlines.add(at, Due.OVERFLOW_EVAL, "", self.eval_token)

    def evaluate_all(self, now: float, out: Out) -> None:
        """Evaluate every department's rules (the periodic deadline)."""
        self.eval_pending = False
        for dept in self.rules_by_dept:
            self.evaluate_dept(dept, now, out)
        self.schedule_evaluation(now)

    # -- loads ---------------------------------------------------------------------------

    def dept_load(self, dept: DeptId, now: float) -> DeptLoad:
        """The figures a rule's conditions read about ``dept``, now."""
        spec = self.depts[dept]
        counts = self.by_state_d[dept]
        waiting = sum(self.waiting[q].count for q in spec.queues)
        oldest = [self.waiting[q].oldest_arrival(self.calls) for q in spec.queues]
        first = min((t for t in oldest if t is not None), default=None)
        serving = _serving(counts)
        available = counts[AgentState.AVAILABLE]
        counters = self.counters_d[dept]
        levels: dict[int, float | None] = {}
        for minutes in self.sl_windows.get(dept, ()):
            answered, within, abandoned = counters.window(now, minutes)
            total = answered + abandoned
            levels[minutes] = within / total if total else None
        return DeptLoad(
            waiting=waiting,
            oldest_wait_s=0.0 if first is None else now - first,
            estimated_wait_s=estimated_wait(waiting, serving, available, counters.aht_s),
            available_agents=available,
            logged_in_agents=serving + counts[AgentState.PAUSED],
            service_level=levels,
            crisis=dept in self.crisis,
        )

    def partner_load(self, partner: str, now: float) -> PartnerLoad | None:
        """An internal department's live load, or an external one's fresh published load."""
        dept = DeptId(partner)
        if dept in self.depts:
            counts = self.by_state_d[dept]
            waiting = sum(self.waiting[q].count for q in self.depts[dept].queues)
            available = counts[AgentState.AVAILABLE]
            ewt = estimated_wait(waiting, _serving(counts), available, self.counters_d[dept].aht_s)
            return PartnerLoad(
                waiting=waiting, available_agents=available, estimated_wait_s=ewt, at=now
            )
        load = self.partner_loads.get(partner)
        if load is None or now - load.at > self.overflow.partner_load_ttl_s:
            return None
        return load

    # -- evaluation ----------------------------------------------------------------------

    def evaluate_dept(self, dept: DeptId, now: float, out: Out) -> None:
        """Run the department's rules in order; the first active rule that sends calls wins."""
        rules = self.rules_by_dept.get(dept)
        if not rules:
            return
        load = self.dept_load(dept, now)
        for rule in rules:
            seen: Seen = []
            fired = holds(rule.when, load, now, seen)
            if not self._active(rule, fired, load, now, seen, out):
                continue
            if self._overflow(rule, load, now, seen, out):
                return

    def _active(
        self, rule: OverflowRule, fired: bool, load: DeptLoad, now: float, seen: Seen, out: Out
    ) -> bool:
        """Apply hysteresis and cooldown; record a change of state."""
        state = self.rule_states[rule.id]
        if state.active:
            released = holds(rule.until, load, now, seen) if rule.until else not fired
            change = released
        else:
            change = fired
        if change and now - state.changed_at >= rule.cooldown_s:
            state.active = not state.active
            state.changed_at = now
            reason = Reason(rule=f"overflow-rule:{rule.id}", values=tuple(seen))
            out.append(
                RuleChanged(
                    dept=rule.dept, rule=rule.id, active=state.active, at=now, reason=reason
                )
            )
        return state.active

    def _candidates(self, rule: OverflowRule, now: float) -> list[Call]:
        """The department's waiting calls this rule may send, in its order, a few at most."""
        queues = self.depts[rule.dept].queues
        limit = 4 * rule.max_per_evaluation
        picked: list[Call] = []
        for q in queues:
            if rule.select is Select.OLDEST:
                calls = self.waiting[q].by_arrival(self.calls)
            else:
                calls = iter(reversed(self.waiting[q].ordered(self.calls)))
            eligible = (c for c in calls if self._may_leave(rule, c, now))
            picked += islice(eligible, limit)
        newest = rule.select is Select.NEWEST
        picked.sort(key=lambda c: (c.arrived_at, c.seq), reverse=newest)
        return picked[:limit]

    @staticmethod
    def _may_leave(rule: OverflowRule, call: Call, now: float) -> bool:
        if now - call.arrived_at < rule.min_wait_s:
            return False
        return rule.priorities is None or call.priority in rule.priorities

    def _overflow(
        self, rule: OverflowRule, load: DeptLoad, now: float, seen: Seen, out: Out
    ) -> int:
        """Send up to the rule's batch down its chain; say why when nobody can take them."""
        candidates = self._candidates(rule, now)
        if not candidates:
            return 0
        sent_to: dict[str, int] = {}
        loads: dict[str, PartnerLoad | None] = {}
        held: dict[str, str] = {}
        sent = 0
        for call in candidates:
            if sent >= rule.max_per_evaluation:
                break
            skipped: dict[str, str] = {}
            partner = self._choose(rule, call, load, sent_to, loads, now, skipped)
            if partner is None:
                held.update(skipped)
                continue
            values: list[tuple[str, Value]] = [*seen, ("partner", partner)]
            values += [(f"skipped:{p}", why) for p, why in skipped.items()]
            reason = Reason(rule=f"overflow-rule:{rule.id}", values=tuple(values))
            self.send_to_partner(call, partner, now, reason, out)
            sent_to[partner] = sent_to.get(partner, 0) + 1
            sent += 1
        if not sent:
            values = [*seen, *((f"skipped:{p}", why) for p, why in held.items())]
            reason = Reason(rule=f"overflow-rule:{rule.id}", values=tuple(values))
            out.append(
                OverflowHeld(dept=rule.dept, rule=rule.id, waiting=load.waiting, reason=reason)
            )
        return sent

    def _choose(
        self,
        rule: OverflowRule,
        call: Call,
        origin: DeptLoad,
        sent_to: dict[str, int],
        loads: dict[str, PartnerLoad | None],
        now: float,
        skipped: dict[str, str],
    ) -> str | None:
        """The first partner of the chain whose load passes the rule's look-ahead.

        Loads are read once per evaluation, then charged with the calls already sent.
        """
        for pid in rule.partners:
            if pid not in loads:
                loads[pid] = self.partner_load(pid, now)
            why = self._refusal(rule, call, pid, loads[pid], origin, sent_to.get(pid, 0), now)
            if why is None:
                return pid
            skipped[pid] = why
        return None

    def _refusal(
        self,
        rule: OverflowRule,
        call: Call,
        pid: str,
        load: PartnerLoad | None,
        origin: DeptLoad,
        sent: int,
        now: float,
    ) -> str | None:
        """Why ``pid`` cannot take ``call`` now, or ``None`` if it can."""
        if DeptId(pid) in call.path:
            return "already-visited"
        if self.refused_until.get(pid, float("-inf")) > now:
            return "refused-recently"
        if load is None:
            blind = pid in self.externals and self.externals[pid].accept_blind
            return None if blind and sent < rule.max_per_evaluation else "load-unknown"
        limits = rule.limits
        available = load.available_agents - sent
        cap = max(1, math.floor(rule.max_share_of_free * load.available_agents))
        ewt = load.estimated_wait_s
        mine = origin.estimated_wait_s
        checks = (
            (available < limits.min_available, f"available={available}<{limits.min_available}"),
            (
                limits.max_waiting is not None and load.waiting + sent > limits.max_waiting,
                f"waiting={load.waiting + sent}>{limits.max_waiting}",
            ),
            (
                limits.max_estimated_wait_s is not None
                and (ewt is None or ewt > limits.max_estimated_wait_s),
                f"estimated_wait={_fmt(ewt)}>{limits.max_estimated_wait_s}",
            ),
            (
                limits.better_than_origin and not _better(ewt, mine),
                f"estimated_wait={_fmt(ewt)}>=origin {_fmt(mine)}",
            ),
            (sent >= cap, f"share-cap={cap}"),
        )
        return next((why for failed, why in checks if failed), None)

    def send_to_partner(
        self, call: Call, partner: str, now: float, reason: Reason, out: Out
    ) -> None:
        """Move the call into an internal department's queue, or out to an external SAMU."""
        external = self.externals.get(partner)
        if external is None:
            self._move(call, DeptId(partner), now, reason, out)
            return
        call.route = self.new_route()
        call.partner = partner
        self.call_to(call, CallState.OVERFLOWING, now, reason, out)
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
        self.dispatch_queue(target, now, out)


def _serving(counts: dict[AgentState, int]) -> int:
    return (
        counts[AgentState.AVAILABLE]
        + counts[AgentState.OFFERED]
        + counts[AgentState.ON_CALL]
        + counts[AgentState.WRAPUP]
    )


def _better(partner: float | None, origin: float | None) -> bool:
    """Whether a partner's estimated wait beats the origin's (``None`` is unbounded)."""
    if partner is None:
        return False
    return origin is None or partner < origin


def _fmt(ewt: float | None) -> str:
    return "unbounded" if ewt is None else f"{ewt:.0f}s"
