"""Overflow rules prepared once when they are set: what each evaluation needs, by department.

Everything an evaluation would otherwise look up or recompute for every rule is fixed
here: the compiled conditions, the look-ahead settings unpacked, the partners' kind, and
the slots where one evaluation keeps the partner verdicts that rules share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from acd.core.conditions import Test, compile_condition
from acd.core.ids import DeptId, QueueId
from acd.core.lookahead import Code, LookAhead
from acd.core.overflow import ExternalPartner, OverflowRule, OverflowSpec, PartnerLimits, windows
from acd.core.spec import DepartmentSpec


@dataclass(slots=True)
class RuleState:
    """Whether a rule is active, and since when (for hysteresis and cooldown)."""

    active: bool = False
    changed_at: float = float("-inf")
    held: tuple[tuple[str, str], ...] = ()
    """Why the rule's calls stayed at its last held evaluation (said again only on change)."""
    held_by: object | None = None
    """The prepared rule whose refusal codes ``held_codes`` are; ``None``: ``held`` only."""
    held_codes: tuple[Code | None, ...] = ()
    """The codes ``held`` was read from: equal codes say the same words (see lookahead)."""

    def clear_held(self) -> None:
        """The rule changed or sent calls: the next held reason is said whatever it is."""
        self.held = ()
        self.held_by = None


@dataclass(frozen=True, slots=True)
class PartnerRef:
    """A partner of a chain: a department of this platform (its queues) or not."""

    id: str
    dept: DeptId | None
    """The department when the partner is internal (its load is read live), else ``None``."""
    queues: tuple[QueueId, ...]
    """The internal department's queues (empty for the others)."""
    external: ExternalPartner | None
    blind: bool = False
    """An external partner that accepts calls while its load is unknown."""
    slot: int = -1
    """Where an evaluation keeps the verdict of (partner, look-ahead settings)."""


@dataclass(slots=True, eq=False)
class PreparedRule:
    """One rule with its conditions compiled and its chain resolved."""

    rule: OverflowRule
    state: RuleState
    when: Test
    until: Test | None
    when_raises: bool
    """``when`` may raise (an unknown time zone): it is then always evaluated, as before."""
    look: LookAhead
    chain: tuple[PartnerRef, ...]
    group: int
    """Rules of a department with the same chain and look-ahead settings share a group."""
    unique: bool
    """No partner appears twice in the chain."""
    # The rule's fields an evaluation reads, at hand (the rule itself stays the reference).
    id: str = field(init=False)
    dept: DeptId = field(init=False)
    label: str = field(init=False)
    cooldown_s: float = field(init=False)
    min_wait_s: float = field(init=False)
    max_per_evaluation: int = field(init=False)
    priorities: frozenset[str] | None = field(init=False)

    def __post_init__(self) -> None:
        rule = self.rule
        self.id, self.dept = rule.id, rule.dept
        self.label = f"overflow-rule:{rule.id}"
        self.cooldown_s, self.min_wait_s = rule.cooldown_s, rule.min_wait_s
        self.max_per_evaluation, self.priorities = rule.max_per_evaluation, rule.priorities


@dataclass(slots=True, eq=False)
class DeptPlan:
    """A department's rules in order, and what one evaluation of them allocates."""

    dept: DeptId
    queues: tuple[QueueId, ...] | None
    """``None`` for a department this engine does not run (its evaluation fails, as before)."""
    windows: tuple[int, ...]
    """Service-level windows (minutes) the rules read."""
    rules: tuple[PreparedRule, ...]
    slots: int
    groups: int


_Class = tuple[PartnerLimits, float, int]


def prepare(
    overflow: OverflowSpec,
    rules_by_dept: Mapping[DeptId, list[OverflowRule]],
    states: Mapping[str, RuleState],
    depts: Mapping[DeptId, DepartmentSpec],
    externals: Mapping[str, ExternalPartner],
) -> dict[DeptId, DeptPlan]:
    """Every department's plan, in the order the departments' rules come.

    Rules with the same look-ahead settings (limits, share, batch size) form a class:
    before any call is sent, a partner's verdict is the same for all of them, so one
    evaluation reads each (partner, class) once. Rules are told apart by id: rules that
    share an id share their state and their class (the last one's).
    """
    classes: dict[_Class, int] = {}
    class_of = {
        r.id: classes.setdefault(
            (r.limits, r.max_share_of_free, r.max_per_evaluation), len(classes)
        )
        for r in overflow.rules
    }
    plans: dict[DeptId, DeptPlan] = {}
    for dept, rules in rules_by_dept.items():
        slots: dict[tuple[str, int], int] = {}
        groups: dict[tuple[tuple[str, ...], int], int] = {}
        prepared = []
        for rule in rules:
            cls = class_of[rule.id]
            chain = tuple(
                PartnerRef(
                    id=pid,
                    dept=DeptId(pid) if pid in depts else None,
                    queues=depts[DeptId(pid)].queues if pid in depts else (),
                    external=externals.get(pid),
                    blind=pid in externals and externals[pid].accept_blind,
                    slot=slots.setdefault((pid, cls), len(slots)),
                )
                for pid in rule.partners
            )
            when, when_raises = compile_condition(rule.when)
            prepared.append(
                PreparedRule(
                    rule=rule,
                    state=states[rule.id],
                    when=when,
                    until=None if rule.until is None else compile_condition(rule.until)[0],
                    when_raises=when_raises,
                    look=LookAhead(rule),
                    chain=chain,
                    group=groups.setdefault((rule.partners, cls), len(groups)),
                    unique=len(set(rule.partners)) == len(rule.partners),
                )
            )
        read = sorted(set().union(*(windows(r.when) | windows(r.until) for r in rules)))
        plans[dept] = DeptPlan(
            dept=dept,
            queues=depts[dept].queues if dept in depts else None,
            windows=tuple(read),
            rules=tuple(prepared),
            slots=len(slots),
            groups=len(groups),
        )
    return plans
