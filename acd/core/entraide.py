"""Entraide: overflow rules evaluated in order, look-ahead on partners, calls keep their place."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, islice

from acd.core.board import Board, Out
from acd.core.commands import MoveCall, OverflowCall, OverflowHeld, Reason, RuleChanged, Value
from acd.core.ids import DeptId, QueueId
from acd.core.model import Call, merge_skills
from acd.core.overflow import (
    DeptLoad,
    ExternalPartner,
    OverflowRule,
    OverflowSpec,
    PartnerLimits,
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
    held: tuple[tuple[str, str], ...] = ()
    """Why the rule's calls stayed at its last held evaluation (said again only on change)."""


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
        self.eval_pending = False
        self.round_loads: dict[str, PartnerLoad | None] | None = None
        self.set_overflow(spec.overflow)

    def set_overflow(self, overflow: OverflowSpec) -> None:
        """Replace the rules at once; a rule keeping its id keeps its state (hysteresis)."""
        self.overflow = overflow
        self.externals: dict[str, ExternalPartner] = {p.id: p for p in overflow.partners}
        self.rules_by_dept: dict[DeptId, list[OverflowRule]] = {}
        for rule in overflow.rules:
            self.rules_by_dept.setdefault(rule.dept, []).append(rule)
        self.rule_states = {r.id: self.rule_states.get(r.id, RuleState()) for r in overflow.rules}
        # Rules with the same look-ahead settings share partner verdicts (see _verdict).
        classes: dict[tuple[PartnerLimits, float, int], int] = {}
        self.limit_classes = {
            r.id: classes.setdefault(
                (r.limits, r.max_share_of_free, r.max_per_evaluation), len(classes)
            )
            for r in overflow.rules
        }
        self.sl_windows = {
            d: sorted(set().union(*(windows(r.when) | windows(r.until) for r in rules)))
            for d, rules in self.rules_by_dept.items()
        }
        self.eval_token += 1
        self.eval_pending = False

    def schedule_evaluation(self, now: float) -> None:
        """Keep one periodic evaluation deadline while there are rules."""
        if self.rules_by_dept and not self.eval_pending:
            self.eval_pending = True
            at = now + self.overflow.evaluate_every_s
            self.deadlines.add(at, Due.OVERFLOW_EVAL, "", self.eval_token)

    def evaluate_all(self, now: float, out: Out) -> None:
        """Evaluate every department's rules (the periodic deadline)."""
        self.eval_pending = False
        # Partners' loads are read once for the whole round, until a call is sent.
        self.round_loads = {}
        try:
            for dept in self.rules_by_dept:
                self.evaluate_dept(dept, now, out)
        finally:
            self.round_loads = None
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
        # Partner loads and verdicts, read once per evaluation (loads once per round).
        scan = _Scan(loads=self.round_loads if self.round_loads is not None else {})
        for rule in rules:
            seen: Seen = []
            fired = holds(rule.when, load, now, seen)
            if not self._active(rule, fired, load, now, seen, out):
                continue
            if self._overflow(rule, load, scan, now, seen, out):
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
            state.held = ()
            reason = Reason(rule=f"overflow-rule:{rule.id}", values=tuple(seen))
            out.append(
                RuleChanged(
                    dept=rule.dept, rule=rule.id, active=state.active, at=now, reason=reason
                )
            )
        return state.active

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

    def _overflow(
        self,
        rule: OverflowRule,
        load: DeptLoad,
        scan: _Scan,
        now: float,
        seen: Seen,
        out: Out,
    ) -> int:
        """Send up to the rule's batch down its chain; say why when nobody can take them."""
        batch = _Batch(scan=scan)
        held = self._load_verdicts(rule, load, scan, batch, now)
        sent = 0
        if len(held) == len(rule.partners):  # nobody can take a call: no need to pick one
            if self._has_candidate(rule, load, now):
                self._hold(rule, load, seen, held, out)
            return 0
        candidates = self._candidates(rule, now)
        first = next(candidates, None)
        if first is None:
            return 0
        for call in chain((first,), candidates):
            if sent >= rule.max_per_evaluation:
                break
            skipped: dict[str, str] = {}
            partner = self._choose(rule, call, load, batch, now, skipped)
            if partner is None:
                held.update(skipped)
                if batch.all_blocked(rule.partners):
                    break  # no partner can take any call: the others would be refused too
                continue
            values: list[tuple[str, Value]] = [*seen, ("partner", partner)]
            values += [(f"skipped:{p}", why) for p, why in skipped.items()]
            reason = Reason(rule=f"overflow-rule:{rule.id}", values=tuple(values))
            self.send_to_partner(call, partner, now, reason, out)
            self.rule_states[rule.id].held = ()
            batch.charge(partner)
            sent += 1
        if not sent:
            self._hold(rule, load, seen, held, out)
        return sent

    def _load_verdicts(
        self, rule: OverflowRule, load: DeptLoad, scan: _Scan, batch: _Batch, now: float
    ) -> dict[str, str]:
        """Every partner's look-ahead verdict before any call is sent; the refused ones.

        Whatever the call, a partner refused on its load is out. Rules of one department
        often share partners and look-ahead settings: before any call is sent their
        verdicts are equal, so one evaluation reads each (partner, settings) pair once.
        """
        held: dict[str, str] = {}
        cls = self.limit_classes[rule.id]
        first_verdicts = scan.verdicts
        for pid in rule.partners:
            key = (pid, cls)
            if key in first_verdicts:
                why = first_verdicts[key]
            else:
                loads = scan.loads
                if pid not in loads:
                    loads[pid] = self.partner_load(pid, now)
                why = first_verdicts[key] = self._refusal(rule, pid, loads[pid], load, 0, now)
            batch.verdicts[pid] = why
            if why is not None:
                held[pid] = why
        return held

    def _has_candidate(self, rule: OverflowRule, load: DeptLoad, now: float) -> bool:
        """Whether some waiting call may leave under this rule (without ordering them)."""
        if rule.priorities is None:
            return load.waiting > 0 and load.oldest_wait_s >= rule.min_wait_s
        return next(self._candidates(rule, now), None) is not None

    def _hold(
        self, rule: OverflowRule, load: DeptLoad, seen: Seen, held: dict[str, str], out: Out
    ) -> None:
        """Say that the rule's calls stay and why, when the why differs from last time."""
        state = self.rule_states[rule.id]
        signature = tuple(held.items())
        if signature == state.held:
            return
        state.held = signature
        values = [*seen, *((f"skipped:{p}", why) for p, why in held.items())]
        reason = Reason(rule=f"overflow-rule:{rule.id}", values=tuple(values))
        out.append(OverflowHeld(dept=rule.dept, rule=rule.id, waiting=load.waiting, reason=reason))

    def _verdict(
        self, rule: OverflowRule, pid: str, origin: DeptLoad, batch: _Batch, now: float
    ) -> str | None:
        """The partner's look-ahead verdict in this batch (read once, until charged)."""
        if pid not in batch.verdicts:  # charged with a call sent in this batch: read again
            loads = batch.scan.loads
            if pid not in loads:
                loads[pid] = self.partner_load(pid, now)
            sent = batch.sent.get(pid, 0)
            batch.verdicts[pid] = self._refusal(rule, pid, loads[pid], origin, sent, now)
        return batch.verdicts[pid]

    def _choose(
        self,
        rule: OverflowRule,
        call: Call,
        origin: DeptLoad,
        batch: _Batch,
        now: float,
        skipped: dict[str, str],
    ) -> str | None:
        """The first partner of the chain whose load passes the rule's look-ahead.

        Loads are read once per evaluation, then charged with the calls already sent; a
        partner's verdict holds for every call of the batch until it is sent one.
        """
        for pid in rule.partners:
            if DeptId(pid) in call.path:
                skipped[pid] = "already-visited"
                continue
            why = self._verdict(rule, pid, origin, batch, now)
            if why is None:
                return pid
            skipped[pid] = why
        return None

    def _refusal(
        self,
        rule: OverflowRule,
        pid: str,
        load: PartnerLoad | None,
        origin: DeptLoad,
        sent: int,
        now: float,
    ) -> str | None:
        """Why ``pid`` cannot take a call now, or ``None`` if it can.

        An external partner is charged with every call on its way to it, not only those of
        this evaluation: its published load cannot show them yet.
        """
        if pid in self.externals:
            sent = self.in_flight.get(pid, 0)
        if self.refused_until.get(pid, float("-inf")) > now:
            return "refused-recently"
        if load is None:
            blind = pid in self.externals and self.externals[pid].accept_blind
            return None if blind and sent < rule.max_per_evaluation else "load-unknown"
        return look_ahead(rule, load, sent, origin.estimated_wait_s)

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


_VerdictKey = tuple[str, int]


@dataclass(slots=True)
class _Scan:
    """One evaluation of one department: partner loads and first verdicts, read once."""

    loads: dict[str, PartnerLoad | None] = field(default_factory=dict)
    verdicts: dict[_VerdictKey, str | None] = field(default_factory=dict)


@dataclass(slots=True)
class _Batch:
    """One evaluation of one rule: verdicts and calls sent to each partner."""

    scan: _Scan
    verdicts: dict[str, str | None] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)

    def charge(self, partner: str) -> None:
        """A call went to ``partner``: its verdict must be read again."""
        self.sent[partner] = self.sent.get(partner, 0) + 1
        self.verdicts.pop(partner, None)

    def all_blocked(self, partners: tuple[str, ...]) -> bool:
        """Whether every partner of the chain was refused on its load."""
        return all(self.verdicts.get(p, None) is not None for p in partners)


def look_ahead(
    rule: OverflowRule, load: PartnerLoad, sent: int, origin_ewt: float | None
) -> str | None:
    """Why a partner's load fails the rule's look-ahead, or ``None`` if it passes.

    ``sent`` calls already went to it in this evaluation and are charged to its load.
    """
    limits = rule.limits
    available = load.available_agents - sent
    if available < limits.min_available:
        return f"available={available}<{limits.min_available}"
    if limits.max_waiting is not None and load.waiting + sent > limits.max_waiting:
        return f"waiting={load.waiting + sent}>{limits.max_waiting}"
    ewt = load.estimated_wait_s
    if limits.max_estimated_wait_s is not None and (
        ewt is None or ewt > limits.max_estimated_wait_s
    ):
        return f"estimated_wait={_fmt(ewt)}>{limits.max_estimated_wait_s}"
    if limits.better_than_origin and not _better(ewt, origin_ewt):
        return f"estimated_wait={_fmt(ewt)}>=origin {_fmt(origin_ewt)}"
    cap = max(1, math.floor(rule.max_share_of_free * load.available_agents))
    if sent >= cap:
        return f"share-cap={cap}"
    return None


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
