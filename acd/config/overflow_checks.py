"""Cross-checks of the overflow section: partners exist, chains make sense, rules agree."""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING

from acd.config.errors import Loc, Problem, duplicates
from acd.config.overflow import DAYS, METRICS, ScheduleConfig, threshold_of

if TYPE_CHECKING:
    from acd.config.models import AcdConfig
    from acd.config.overflow import ConditionConfig, RuleConfig, ThresholdConfig

WEEK_MIN = 7 * 1440


def overflow_problems(cfg: AcdConfig) -> list[Problem]:
    """Every problem of the overflow section of an otherwise well-formed configuration."""
    depts = {d.id for d in cfg.departments}
    partners = cfg.overflow.partners
    problems = duplicates(
        ((("overflow", "partners", i, "id"), p.id) for i, p in enumerate(partners)),
        "duplicate partner id '{key}'",
    )
    problems += [
        Problem(
            loc=("overflow", "partners", i, "id"),
            message=f"'{p.id}' is already a department of this platform",
        )
        for i, p in enumerate(partners)
        if p.id in depts
    ]
    known = depts | {p.id for p in partners}
    classes = {c.name for c in cfg.priorities.classes}
    rules = cfg.overflow.rules
    problems += [
        Problem(loc=("overflow", "rules", dept), message=f"unknown department '{dept}'")
        for dept in rules
        if dept not in depts
    ]
    problems += duplicates(
        (
            (("overflow", "rules", dept, j, "id"), rule.id)
            for dept, chain in rules.items()
            for j, rule in enumerate(chain)
        ),
        "duplicate overflow rule id '{key}'",
    )
    for dept, chain in rules.items():
        for j, rule in enumerate(chain):
            loc = ("overflow", "rules", dept, j)
            problems += _chain((*loc, "partners"), dept, rule.partners, known)
            problems += _priorities((*loc, "priorities"), rule, classes)
            problems += _hysteresis(loc, rule)
        problems += _schedule_overlaps(("overflow", "rules", dept), chain)
    return problems


def _chain(loc: Loc, dept: str, chain: tuple[str, ...], known: set[str]) -> list[Problem]:
    problems = []
    for m, partner in enumerate(chain):
        if partner == dept:
            problems.append(
                Problem(loc=(*loc, m), message=f"a department cannot overflow to itself ('{dept}')")
            )
        elif partner not in known:
            problems.append(
                Problem(
                    loc=(*loc, m),
                    message=f"unknown partner '{partner}': neither a department of this "
                    "platform nor an overflow partner",
                )
            )
    return problems + duplicates(
        (((*loc, m), p) for m, p in enumerate(chain)), "partner '{key}' appears twice in this chain"
    )


def _priorities(loc: Loc, rule: RuleConfig, classes: set[str]) -> list[Problem]:
    return [
        Problem(
            loc=(*loc, m),
            message=f"unknown priority class '{name}' (classes: {', '.join(sorted(classes))})",
        )
        for m, name in enumerate(rule.priorities or ())
        if name not in classes
    ]


# -- hysteresis ---------------------------------------------------------------------------


def _hysteresis(loc: Loc, rule: RuleConfig) -> list[Problem]:
    """An ``until`` that cannot release the rule sensibly, where it is simply checkable.

    Checked: ``until`` is one threshold with one bound, and ``when`` is a threshold on the
    same figure (alone, or an item of a top-level ``all``) with one bound.
    """
    until = rule.until
    if until is None:
        return []
    if rule.when is None:
        return [
            Problem(
                loc=(*loc, "until"),
                message="'until' without 'when': the rule is always on and would start again "
                "as soon as it stops; give the rule a 'when'",
            )
        ]
    if until.key not in METRICS:
        return []
    metric, release = threshold_of(until)
    if (release.at_least is None) == (release.at_most is None):
        return []
    problems = []
    for trigger in _triggers(rule.when):
        trigger_metric, bounds = threshold_of(trigger)
        if trigger_metric is metric and (bounds.at_least is None) != (bounds.at_most is None):
            problems += _release((*loc, "until", metric.value), metric.value, bounds, release)
    return problems


def _triggers(when: ConditionConfig) -> list[ConditionConfig]:
    if when.key in METRICS:
        return [when]
    if when.all_ is not None:
        return [item for item in when.all_ if item.key in METRICS]
    return []


def _release(
    loc: Loc, metric: str, trigger: ThresholdConfig, release: ThresholdConfig
) -> list[Problem]:
    if trigger.at_least is not None:
        start = f"when starts at {metric} at_least {trigger.at_least:g}"
        if release.at_most is not None and release.at_most >= trigger.at_least:
            message = (
                f"release threshold must be below the trigger: until {metric} at_most "
                f"{release.at_most:g} is not below the {trigger.at_least:g} of 'when', "
                "so the rule would stop as soon as it starts"
            )
            return [Problem(loc=(*loc, "at_most"), message=message)]
        if release.at_least is not None:
            message = (
                f"release threshold must be below the trigger: {start}, so 'until' needs "
                f"at_most a value below {trigger.at_least:g}; at_least "
                f"{release.at_least:g} would stop the rule only once {metric} gets worse"
            )
            return [Problem(loc=(*loc, "at_least"), message=message)]
        return []
    assert trigger.at_most is not None  # a one-sided threshold
    start = f"when starts at {metric} at_most {trigger.at_most:g}"
    if release.at_least is not None and release.at_least <= trigger.at_most:
        message = (
            f"release threshold must be above the trigger: until {metric} at_least "
            f"{release.at_least:g} is not above the {trigger.at_most:g} of 'when', "
            "so the rule would stop as soon as it starts"
        )
        return [Problem(loc=(*loc, "at_least"), message=message)]
    if release.at_most is not None:
        message = (
            f"release threshold must be above the trigger: {start}, so 'until' needs "
            f"at_least a value above {trigger.at_most:g}; at_most {release.at_most:g} "
            f"would stop the rule only once {metric} gets worse"
        )
        return [Problem(loc=(*loc, "at_most"), message=message)]
    return []


# -- schedules ----------------------------------------------------------------------------


def _schedule_overlaps(loc: Loc, rules: tuple[RuleConfig, ...]) -> list[Problem]:
    """Two schedule rules of one department open at the same time with other first partners."""
    scheduled = [
        (j, rule, rule.when.schedule)
        for j, rule in enumerate(rules)
        if rule.when is not None and rule.when.schedule is not None
    ]
    problems = []
    for (i, first, s1), (j, second, s2) in combinations(scheduled, 2):
        if s1.tz != s2.tz or first.partners[0] == second.partners[0]:
            continue
        common = week_minutes(s1) & week_minutes(s2)
        if not common:
            continue
        problems.append(
            Problem(
                loc=(*loc, j, "when", "schedule"),
                message=f"overlapping schedules that contradict: this window shares "
                f"{_span(common)} with rule '{first.id}', which sends to "
                f"'{first.partners[0]}' first where this one sends to '{second.partners[0]}'; "
                "make the windows disjoint or start both chains with the same partner",
                see=(*loc, i, "when", "schedule"),
            )
        )
    return problems


def week_minutes(s: ScheduleConfig) -> set[int]:
    """The minutes of the week (0 = Monday 00:00, local time) the schedule is open."""
    start, end = s.start_min, s.end_min
    length = end - start if end > start else 1440 - start + end
    return {((day - 1) * 1440 + start + k) % WEEK_MIN for day in s.iso_days for k in range(length)}


def _span(minutes: set[int]) -> str:
    """``360 min a week, from Mon 22:00``: how long, and where the first stretch starts."""
    starts = [m for m in minutes if (m - 1) % WEEK_MIN not in minutes]
    first = min(starts or minutes)
    day, minute = divmod(first, 1440)
    return (
        f"{len(minutes)} min a week, from {DAYS[day].capitalize()} "
        f"{minute // 60:02d}:{minute % 60:02d}"
    )
