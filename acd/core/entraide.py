"""Entraide: overflow rules evaluated in order, look-ahead on partners, calls keep their place."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from itertools import chain
from typing import Final

from acd.core.board import Out
from acd.core.commands import OverflowHeld, Reason, RuleChanged, Value
from acd.core.conditions import EWT, WAITING, Figures, figures_load
from acd.core.ids import DeptId
from acd.core.lookahead import Code, PartnerLoad, Reading, look_ahead, words
from acd.core.model import Call
from acd.core.overflow import OverflowRule, OverflowSpec, Seen, holds
from acd.core.partners import NEVER, Partners
from acd.core.ruleplan import DeptPlan, PartnerRef, PreparedRule, RuleState, prepare
from acd.core.spec import EngineSpec
from acd.core.timers import Due

__all__ = ["Entraide", "PartnerLoad", "RuleState", "look_ahead"]


class Entraide(Partners):
    """Adds overflow to the board: rule states, partner loads, crisis modes, evaluation."""

    def __init__(self, spec: EngineSpec, *, route_prefix: str = "r") -> None:
        super().__init__(spec, route_prefix=route_prefix)
        self.rule_states: dict[str, RuleState] = {}
        self.eval_pending = False
        self.set_overflow(spec.overflow)

    def set_overflow(self, overflow: OverflowSpec) -> None:
        """Replace the rules at once; a rule keeping its id keeps its state (hysteresis)."""
        self.overflow = overflow
        self.externals = {p.id: p for p in overflow.partners}
        self.rules_by_dept: dict[DeptId, list[OverflowRule]] = {}
        for rule in overflow.rules:
            self.rules_by_dept.setdefault(rule.dept, []).append(rule)
        self.rule_states = {r.id: self.rule_states.get(r.id, RuleState()) for r in overflow.rules}
        self.plans = prepare(
            overflow, self.rules_by_dept, self.rule_states, self.depts, self.externals
        )
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
            for plan in self.plans.values():
                self._evaluate(plan, now, out)
        finally:
            self.round_loads = None
        self.schedule_evaluation(now)

    # -- evaluation ----------------------------------------------------------------------

    def evaluate_dept(self, dept: DeptId, now: float, out: Out) -> None:
        """Run the department's rules in order; the first active rule that sends calls wins."""
        plan = self.plans.get(dept)
        if plan is not None:
            self._evaluate(plan, now, out)

    def _evaluate(self, plan: DeptPlan, now: float, out: Out) -> None:
        """Test each rule's conditions, apply hysteresis and cooldown, then overflow.

        The conditions are compiled tests that record nothing; the values they read are
        recorded (``_seen``) only for a reason that is said.
        """
        # A department this engine does not run fails here (KeyError), as it always did.
        queues = plan.queues if plan.queues is not None else self.depts[plan.dept].queues
        f = self._figures(plan.dept, queues, plan.windows, now)
        # Partner loads and verdicts, read once per evaluation (loads once per round).
        scan = _Scan(self.round_loads if self.round_loads is not None else {}, plan)
        for rule in plan.rules:
            state = rule.state
            was_active = state.active
            if not was_active:
                change = rule.when(f, now)
            elif rule.until is None:
                change = not rule.when(f, now)
            else:
                if rule.when_raises:
                    rule.when(f, now)
                change = rule.until(f, now)
            seen = None
            if change and now - state.changed_at >= rule.cooldown_s:
                seen = self._seen(rule, f, now, was_active)
                self._change(rule, now, seen, out)
            if state.active and self._overflow(rule, f, scan, now, was_active, seen, out):
                return

    @staticmethod
    def _change(rule: PreparedRule, now: float, seen: Seen, out: Out) -> None:
        """The rule turns active or inactive (hysteresis and cooldown applied): say it."""
        state = rule.state
        state.active = not state.active
        state.changed_at = now
        state.clear_held()
        reason = Reason(rule=rule.label, values=tuple(seen))
        out.append(
            RuleChanged(dept=rule.dept, rule=rule.id, active=state.active, at=now, reason=reason)
        )

    @staticmethod
    def _seen(rule: PreparedRule, f: Figures, now: float, was_active: bool) -> Seen:
        """What the conditions read: ``when``'s values, then ``until``'s if it was active.

        Recorded by ``holds`` itself, and only when a reason is said: most evaluations of
        an active rule say nothing new.
        """
        load = figures_load(f)
        seen: Seen = []
        holds(rule.rule.when, load, now, seen)
        if was_active and rule.rule.until is not None:
            holds(rule.rule.until, load, now, seen)
        return seen

    def _overflow(
        self,
        rule: PreparedRule,
        f: Figures,
        scan: _Scan,
        now: float,
        was_active: bool,
        seen: Seen | None,
        out: Out,
    ) -> int:
        """Send up to the rule's batch down its chain; say why when nobody can take them."""
        first = scan.groups[rule.group]
        if first is None:
            first = scan.groups[rule.group] = self._first_verdicts(rule, f, scan, now)
        codes, passing = first
        if rule.unique and not passing:  # nobody can take a call: no need to pick one
            state = rule.state
            if state.held_by is rule and state.held_codes == codes:
                return 0  # refused as last said: the same words, held or not, nothing to say
            if self._has_candidate(rule, f, now):
                self._hold_codes(rule, f, codes, now, was_active, seen, out)
            return 0
        return self._send(rule, f, scan, codes, now, was_active, seen, out)

    def _first_verdicts(
        self, rule: PreparedRule, f: Figures, scan: _Scan, now: float
    ) -> tuple[tuple[Code | None, ...], int]:
        """Every partner's look-ahead verdict before any call is sent, and how many pass.

        Whatever the call, a partner refused on its load is out. Rules of one department
        often share partners and look-ahead settings: before any call is sent their
        verdicts are equal, so one evaluation reads each (partner, settings) pair once.
        """
        verdicts, loads = scan.verdicts, scan.loads
        judge, origin_ewt = rule.look.judge, f[EWT]
        codes: list[Code | None] = []
        for partner in rule.chain:
            slot = partner.slot
            code = verdicts[slot]
            if code is _UNREAD:
                reading = loads.get(partner.id)
                if reading is None:
                    reading = loads[partner.id] = self._read(partner, now)
                code = verdicts[slot] = judge(reading, origin_ewt)
            codes.append(code)
        return tuple(codes), codes.count(None)

    def _hold_codes(
        self,
        rule: PreparedRule,
        f: Figures,
        codes: tuple[Code | None, ...],
        now: float,
        was_active: bool,
        seen: Seen | None,
        out: Out,
    ) -> None:
        """Every partner refused: say so when the refusals differ from the last ones said."""
        state = rule.state
        held = tuple(  # every code is a refusal here (``is not None`` for the types)
            (p.id, words(c)) for p, c in zip(rule.chain, codes, strict=True) if c is not None
        )
        state.held_by, state.held_codes = rule, codes
        if held != state.held:
            state.held = held
            if seen is None:
                seen = self._seen(rule, f, now, was_active)
            self._say_held(rule, f, held, seen, out)

    def _hold(
        self,
        rule: PreparedRule,
        f: Figures,
        held: dict[str, str],
        now: float,
        was_active: bool,
        seen: Seen | None,
        out: Out,
    ) -> None:
        """Say that the rule's calls stay and why, when the why differs from last time."""
        state = rule.state
        signature = tuple(held.items())
        if signature == state.held:
            return
        state.held = signature
        state.held_by = None
        if seen is None:
            seen = self._seen(rule, f, now, was_active)
        self._say_held(rule, f, signature, seen, out)

    @staticmethod
    def _say_held(
        rule: PreparedRule, f: Figures, held: tuple[tuple[str, str], ...], seen: Seen, out: Out
    ) -> None:
        values = [*seen, *((f"skipped:{p}", why) for p, why in held)]
        reason = Reason(rule=rule.label, values=tuple(values))
        out.append(OverflowHeld(dept=rule.dept, rule=rule.id, waiting=f[WAITING], reason=reason))

    def _send(
        self,
        rule: PreparedRule,
        f: Figures,
        scan: _Scan,
        codes: tuple[Code | None, ...],
        now: float,
        was_active: bool,
        seen: Seen | None,
        out: Out,
    ) -> int:
        """Some partner may take a call (or the chain names one twice): pick and send."""
        batch = _Batch(scan=scan)
        held: dict[str, str] = {}
        for partner, code in zip(rule.chain, codes, strict=True):
            why = None if code is None else words(code)
            batch.verdicts[partner.id] = why
            if why is not None:
                held[partner.id] = why
        sent = 0
        candidates = self._candidates(rule.rule, now)
        first = next(candidates, None)
        if first is None:
            return 0
        for call in chain((first,), candidates):
            if sent >= rule.max_per_evaluation:
                break
            skipped: dict[str, str] = {}
            pid = self._choose(rule, call, f, batch, now, skipped)
            if pid is None:
                held.update(skipped)
                if batch.all_blocked(rule.chain):
                    break  # no partner can take any call: the others would be refused too
                continue
            if seen is None:
                seen = self._seen(rule, f, now, was_active)
            values: list[tuple[str, Value]] = [*seen, ("partner", pid)]
            values += [(f"skipped:{p}", why) for p, why in skipped.items()]
            reason = Reason(rule=rule.label, values=tuple(values))
            self.send_to_partner(call, pid, now, reason, out)
            rule.state.clear_held()
            batch.charge(pid)
            sent += 1
        if not sent:
            self._hold(rule, f, held, now, was_active, seen, out)
        return sent

    def _choose(
        self,
        rule: PreparedRule,
        call: Call,
        f: Figures,
        batch: _Batch,
        now: float,
        skipped: dict[str, str],
    ) -> str | None:
        """The first partner of the chain whose load passes the rule's look-ahead.

        Loads are read once per evaluation, then charged with the calls already sent; a
        partner's verdict holds for every call of the batch until it is sent one.
        """
        for partner in rule.chain:
            pid = partner.id
            if pid in call.path:
                skipped[pid] = "already-visited"
                continue
            if pid not in batch.verdicts:  # charged with a call sent in this batch: read again
                loads = batch.scan.loads
                if pid not in loads:
                    loads[pid] = self._read(partner, now)
                # The snapshot's load, charged with the calls sent to it.
                waiting, available, ewt, exact, _, _, unknown = loads[pid]
                if partner.external is None:
                    sent = batch.sent.get(pid, 0)
                else:
                    sent = self.in_flight.get(pid, 0)
                refused = self.refused_until.get(pid, NEVER) > now
                reading = (waiting, available, ewt, exact, sent, refused, unknown)
                code = rule.look.judge(reading, f[EWT])
                batch.verdicts[pid] = None if code is None else words(code)
            why = batch.verdicts[pid]
            if why is None:
                return pid
            skipped[pid] = why
        return None


class _Unread(Enum):
    """A verdict slot not read yet (``None`` is a verdict: the partner passes)."""

    UNREAD = 0


_UNREAD: Final = _Unread.UNREAD
"""A verdict slot not read yet in this evaluation."""


class _Scan:
    """One evaluation of one department: partner loads, first verdicts and groups, read once."""

    __slots__ = ("groups", "loads", "verdicts")

    def __init__(self, loads: dict[str, Reading], plan: DeptPlan) -> None:
        self.loads = loads
        self.verdicts: list[Code | _Unread | None] = [_UNREAD] * plan.slots
        self.groups: list[tuple[tuple[Code | None, ...], int] | None] = [None] * plan.groups


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

    def all_blocked(self, chain: tuple[PartnerRef, ...]) -> bool:
        """Whether every partner of the chain was refused on its load."""
        return all(self.verdicts.get(p.id, None) is not None for p in chain)
