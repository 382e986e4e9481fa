"""Overflow rules in the configuration: conditions become core objects, mistakes get lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import ConfigError, ConfigIssue, build_engine_spec, load_config, parse_document
from acd.core.ids import DeptId
from acd.core.overflow import (
    AllOf,
    AnyOf,
    Condition,
    CrisisOn,
    Metric,
    NotOf,
    OverflowRule,
    OverflowSpec,
    PartnerLimits,
    Schedule,
    Select,
    ServiceLevelBelow,
    Threshold,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "configs"
REFERENCE = ROOT / "configs" / "acd.yaml"
PLATFORM = (DATA / "minimal.yaml").read_text(encoding="utf-8").split("overflow:\n")[0]
PARTNERS = """\
overflow:
  partners:
    - {id: samu-60, name: SAMU de l'Oise, number: "0300000060", trunk: PJSIP/trunk}
  rules:
"""


def with_rules(rules: str) -> str:
    """The minimal platform (75 and 92, partner samu-60) with these overflow rules."""
    return PLATFORM + PARTNERS + rules


def spec_of(rules: str) -> OverflowSpec:
    """The core overflow spec built from a platform with these rules."""
    doc = parse_document(with_rules(rules).encode(), source="acd.yaml")
    return build_engine_spec(doc.config).overflow


def issues_of(text: str) -> list[ConfigIssue]:
    """The issues of a configuration that must be refused."""
    with pytest.raises(ConfigError) as caught:
        parse_document(text.encode(), source="acd.yaml")
    return list(caught.value.issues)


def marked(text: str) -> int:
    """The line carrying the ``# <- mistake`` marker."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if "# <- mistake" in line)


def when_of(condition: str) -> Condition:
    """The core condition of a 75 rule whose ``when`` is written as given."""
    spec = spec_of(f'    "75":\n      - {{id: r, partners: ["92"], when: {condition}}}\n')
    return spec.rules[0].when


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("{waiting: {at_least: 5}}", Threshold(metric=Metric.WAITING, at_least=5)),
        ("{oldest_wait_s: {at_most: 30}}", Threshold(metric=Metric.OLDEST_WAIT_S, at_most=30)),
        (
            "{estimated_wait_s: {at_least: 60, at_most: 600}}",
            Threshold(metric=Metric.ESTIMATED_WAIT_S, at_least=60, at_most=600),
        ),
        ("{available_agents: {at_most: 0}}", Threshold(metric=Metric.AVAILABLE_AGENTS, at_most=0)),
        (
            "{logged_in_agents: {at_least: 1}}",
            Threshold(metric=Metric.LOGGED_IN_AGENTS, at_least=1),
        ),
        (
            "{service_level: {below: 0.9, window_min: 30}}",
            ServiceLevelBelow(share=0.9, window_min=30),
        ),
        ("{service_level: {below: 0.8}}", ServiceLevelBelow(share=0.8, window_min=15)),
        (
            '{schedule: {days: [mon, sun], from: "22:00", to: "07:00"}}',
            Schedule(days=frozenset({1, 7}), start_min=1320, end_min=420, tz="Europe/Paris"),
        ),
        (
            '{schedule: {from: "08:30", to: "20:00", tz: America/Cayenne}}',
            Schedule(
                days=frozenset(range(1, 8)), start_min=510, end_min=1200, tz="America/Cayenne"
            ),
        ),
        ("{crisis: true}", CrisisOn()),
        ("{not: {crisis: true}}", NotOf(item=CrisisOn())),
        (
            "{all: [{waiting: {at_least: 5}}, {oldest_wait_s: {at_least: 60}}]}",
            AllOf(
                items=(
                    Threshold(metric=Metric.WAITING, at_least=5),
                    Threshold(metric=Metric.OLDEST_WAIT_S, at_least=60),
                )
            ),
        ),
        (
            "{any: [{crisis: true}, {not: {logged_in_agents: {at_least: 1}}}]}",
            AnyOf(
                items=(
                    CrisisOn(),
                    NotOf(item=Threshold(metric=Metric.LOGGED_IN_AGENTS, at_least=1)),
                )
            ),
        ),
    ],
)
def test_each_condition_kind_becomes_its_core_condition(written: str, expected: Condition) -> None:
    """A condition written by the administrator becomes the matching core dataclass."""
    assert when_of(written) == expected


def test_a_rule_without_when_is_always_on() -> None:
    """A chain with no condition is always on: the look-ahead alone decides."""
    spec = spec_of('    "75":\n      - {id: 75-entraide, partners: ["92"]}\n')
    assert spec.rules[0].when == AllOf(items=())
    assert spec.rules[0].until is None


def test_every_field_of_a_saturation_rule_reaches_the_core() -> None:
    """Look-ahead, hysteresis, batch, share, cooldown and priorities are all carried over."""
    spec = spec_of(
        """\
    "75":
      - id: 75-saturation
        when:
          all:
            - waiting: {at_least: 5}
            - oldest_wait_s: {at_least: 60}
        until: {waiting: {at_most: 1}}
        partners: ["92", samu-60]
        look_ahead:
          max_waiting: 2
          min_available: 1
          max_estimated_wait_s: 30
          better_than_origin: false
        select: newest
        min_wait_s: 20
        max_per_evaluation: 2
        max_share_of_free: 0.5
        cooldown_s: 30
        priorities: [normal]
"""
    )
    [rule] = spec.rules
    assert rule == OverflowRule(
        id="75-saturation",
        dept=DeptId("75"),
        when=AllOf(
            items=(
                Threshold(metric=Metric.WAITING, at_least=5),
                Threshold(metric=Metric.OLDEST_WAIT_S, at_least=60),
            )
        ),
        until=Threshold(metric=Metric.WAITING, at_most=1),
        partners=("92", "samu-60"),
        limits=PartnerLimits(
            max_waiting=2, min_available=1, max_estimated_wait_s=30, better_than_origin=False
        ),
        select=Select.NEWEST,
        min_wait_s=20,
        max_per_evaluation=2,
        max_share_of_free=0.5,
        cooldown_s=30,
        priorities=frozenset({"normal"}),
    )


def test_rules_come_in_department_order_then_file_order() -> None:
    """Rules are listed department by department, as the departments are declared."""
    spec = spec_of(
        """\
    "92":
      - {id: 92-a, partners: ["75"]}
    "75":
      - {id: 75-a, partners: ["92"], when: {crisis: true}}
      - {id: 75-b, partners: ["92"]}
"""
    )
    assert [(r.dept, r.id) for r in spec.rules] == [("75", "75-a"), ("75", "75-b"), ("92", "92-a")]


def test_external_partners_and_timing_reach_the_core() -> None:
    """Partners keep number, trunk and blind sending; the evaluation timings are kept."""
    text = with_rules('    "75":\n      - {id: r, partners: [samu-60]}\n').replace(
        "overflow:\n  partners:",
        "overflow:\n  evaluate_every_s: 2\n  partner_load_ttl_s: 15\n  partner_retry_s: 60\n"
        "  partners:",
    )
    text = text.replace("trunk: PJSIP/trunk}", "trunk: PJSIP/trunk, accept_blind: true}")
    overflow = build_engine_spec(parse_document(text.encode()).config).overflow
    assert (overflow.evaluate_every_s, overflow.partner_load_ttl_s) == (2, 15)
    assert overflow.partner_retry_s == 60
    [partner] = overflow.partners
    assert (partner.id, partner.number, partner.trunk) == ("samu-60", "0300000060", "PJSIP/trunk")
    assert partner.accept_blind is True


def test_the_reference_configuration_has_rules_of_every_kind() -> None:
    """configs/acd.yaml loads with saturation, night pooling, crisis and service-level rules."""
    overflow = build_engine_spec(load_config(REFERENCE)).overflow

    def kinds(cond: Condition) -> set[type]:
        inner = cond.items if isinstance(cond, AllOf | AnyOf) else ()
        return {type(cond)}.union(*(kinds(c) for c in inner))

    found = set().union(*(kinds(r.when) for r in overflow.rules))
    assert {CrisisOn, Schedule, ServiceLevelBelow, Threshold, AllOf} <= found
    assert len(overflow.rules) >= 3
    saturation = [r for r in overflow.rules if r.id.endswith("-saturation")]
    assert {r.dept for r in saturation} == {r.dept for r in overflow.rules}
    assert all(r.until is not None for r in saturation)
    assert {p.accept_blind for p in overflow.partners} == {True, False}


MISTAKES = [
    (
        "unknown partner",
        '    "75":\n      - {id: r, partners: ["92", samu-59]}  # <- mistake\n',
        "overflow.rules.75[0].partners[1]",
        "unknown partner 'samu-59': neither a department of this platform nor an overflow partner",
    ),
    (
        "chain naming its own department",
        '    "75":\n      - id: r\n        partners:\n          - "92"\n'
        '          - "75"  # <- mistake\n',
        "overflow.rules.75[0].partners[1]",
        "a department cannot overflow to itself ('75')",
    ),
    (
        "duplicate partner in one chain",
        '    "75":\n      - id: r\n        partners:\n          - "92"\n'
        "          - samu-60\n"
        '          - "92"  # <- mistake\n',
        "overflow.rules.75[0].partners[2]",
        "partner '92' appears twice in this chain",
    ),
    (
        "duplicate rule id across departments",
        '    "75":\n      - {id: entraide, partners: ["92"]}\n'
        '    "92":\n      - {id: entraide, partners: ["75"]}  # <- mistake\n',
        "overflow.rules.92[0].id",
        "duplicate overflow rule id 'entraide' (first declared at line",
    ),
    (
        "rules for an unknown department",
        '    "93":  # <- mistake\n      - {id: r, partners: ["92"]}\n',
        "overflow.rules.93",
        "unknown department '93'",
    ),
    (
        "threshold bounds inverted",
        '    "75":\n      - id: r\n        partners: ["92"]\n'
        "        when: {waiting: {at_least: 5, at_most: 2}}  # <- mistake\n",
        "overflow.rules.75[0].when.waiting",
        "at_least 5 is above at_most 2: this condition can never hold",
    ),
    (
        "release threshold not below the trigger",
        '    "75":\n      - id: r\n        partners: ["92"]\n'
        "        when: {waiting: {at_least: 5}}\n"
        "        until:\n          waiting:\n            at_most: 5  # <- mistake\n",
        "overflow.rules.75[0].until.waiting.at_most",
        "release threshold must be below the trigger",
    ),
    (
        "release in the trigger's direction",
        '    "75":\n      - id: r\n        partners: ["92"]\n'
        "        when: {all: [{oldest_wait_s: {at_least: 60}}, {waiting: {at_least: 5}}]}\n"
        "        until: {waiting: {at_least: 10}}  # <- mistake\n",
        "overflow.rules.75[0].until.waiting.at_least",
        "at_least 10 would stop the rule only once waiting gets worse",
    ),
    (
        "release of an at_most trigger not above it",
        '    "75":\n      - id: r\n        partners: ["92"]\n'
        "        when: {available_agents: {at_most: 0}}\n"
        "        until: {available_agents: {at_least: 0}}  # <- mistake\n",
        "overflow.rules.75[0].until.available_agents.at_least",
        "release threshold must be above the trigger",
    ),
    (
        "until without when",
        '    "75":\n      - id: r\n        partners: ["92"]\n'
        "        until: {waiting: {at_most: 1}}  # <- mistake\n",
        "overflow.rules.75[0].until",
        "'until' without 'when'",
    ),
    (
        "overlapping schedules that contradict",
        '    "75":\n      - id: nuit\n        partners: ["92"]\n'
        '        when: {schedule: {days: [fri], from: "22:00", to: "07:00"}}\n'
        "      - id: matin\n        partners: [samu-60]\n        when:\n"
        '          schedule: {days: [sat], from: "06:00", to: "09:00"}  # <- mistake\n',
        "overflow.rules.75[1].when.schedule",
        "overlapping schedules that contradict: this window shares 60 min a week, from Sat "
        "06:00 with rule 'nuit', which sends to '92' first where this one sends to 'samu-60'",
    ),
    (
        "empty partner chain",
        '    "75":\n      - {id: r, partners: []}  # <- mistake\n',
        "overflow.rules.75[0].partners",
        "the partner chain is empty",
    ),
    (
        "share of free agents above one",
        '    "75":\n      - id: r\n        partners: ["92"]\n'
        "        max_share_of_free: 1.5  # <- mistake\n",
        "overflow.rules.75[0].max_share_of_free",
        "1.5 is not a share: write a number above 0 and at most 1",
    ),
    (
        "share of free agents of zero",
        '    "75":\n      - id: r\n        partners: ["92"]\n'
        "        max_share_of_free: 0  # <- mistake\n",
        "overflow.rules.75[0].max_share_of_free",
        "0 is not a share",
    ),
    (
        "negative wait",
        '    "75":\n      - id: r\n        partners: ["92"]\n'
        "        min_wait_s: -20  # <- mistake\n",
        "overflow.rules.75[0].min_wait_s",
        "greater than or equal to 0 (got -20)",
    ),
    (
        "negative threshold",
        '    "75":\n      - id: r\n        partners: ["92"]\n        when:\n'
        "          waiting: {at_least: -2}  # <- mistake\n",
        "overflow.rules.75[0].when.waiting.at_least",
        "greater than or equal to 0 (got -2)",
    ),
    (
        "two keys in one condition",
        '    "75":\n      - id: r\n        partners: ["92"]\n'
        "        when: {waiting: {at_least: 5}, crisis: true}  # <- mistake\n",
        "overflow.rules.75[0].when",
        "a condition has exactly one key, not 2 (waiting, crisis): to require them all, "
        "write all: [...]",
    ),
    (
        "empty condition",
        '    "75":\n      - id: r\n        partners: ["92"]\n        when: {}  # <- mistake\n',
        "overflow.rules.75[0].when",
        "a condition needs one key: waiting, oldest_wait_s",
    ),
    (
        "crisis false",
        '    "75":\n      - id: r\n        partners: ["92"]\n'
        "        when: {crisis: false}  # <- mistake\n",
        "overflow.rules.75[0].when.crisis",
        "for outside crisis mode write 'not: {crisis: true}'",
    ),
    (
        "unquoted time",
        '    "75":\n      - id: r\n        partners: ["92"]\n        when:\n          schedule:\n'
        "            from: 22:00  # <- mistake\n"
        '            to: "07:00"\n',
        "overflow.rules.75[0].when.schedule.from",
        'write the time in quotes, e.g. "22:00"',
    ),
    (
        "window from a time to the same time",
        '    "75":\n      - id: r\n        partners: ["92"]\n        when:\n          schedule:\n'
        '            from: "07:00"\n'
        '            to: "07:00"  # <- mistake\n',
        "overflow.rules.75[0].when.schedule.to",
        "the window from 07:00 to 07:00 is empty",
    ),
    (
        "unknown time zone",
        '    "75":\n      - id: r\n        partners: ["92"]\n        when:\n          schedule:\n'
        '            from: "07:00"\n            to: "19:00"\n'
        "            tz: Europe/Pariss  # <- mistake\n",
        "overflow.rules.75[0].when.schedule.tz",
        "unknown time zone 'Europe/Pariss'",
    ),
    (
        "day name misspelt",
        '    "75":\n      - id: r\n        partners: ["92"]\n        when:\n          schedule:\n'
        "            days:\n              - mon\n              - lun  # <- mistake\n"
        '            from: "07:00"\n            to: "19:00"\n',
        "overflow.rules.75[0].when.schedule.days[1]",
        "'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun'",
    ),
    (
        "service level written in percent",
        '    "75":\n      - id: r\n        partners: ["92"]\n        when:\n'
        "          service_level:\n            below: 90  # <- mistake\n",
        "overflow.rules.75[0].when.service_level.below",
        "90 is not a share",
    ),
    (
        "unknown priority class",
        '    "75":\n      - id: r\n        partners: ["92"]\n'
        "        priorities: [urgente]  # <- mistake\n",
        "overflow.rules.75[0].priorities[0]",
        "unknown priority class 'urgente' (classes: normal, urgence-vitale)",
    ),
    (
        "misspelt condition key",
        '    "75":\n      - id: r\n        partners: ["92"]\n        when:\n          any:\n'
        "            - crisis: true\n"
        "            - waitng: {at_least: 2}  # <- mistake\n",
        "overflow.rules.75[0].when.any[1].waitng",
        "unknown key",
    ),
]


@pytest.mark.parametrize(
    ("rules", "path", "reason"),
    [pytest.param(rules, path, reason, id=name) for name, rules, path, reason in MISTAKES],
)
def test_each_overflow_mistake_is_reported_on_its_line(rules: str, path: str, reason: str) -> None:
    """The mistake is the only issue, on the marked line, with its own reason."""
    text = with_rules(rules)
    [issue] = issues_of(text)
    assert (issue.line, issue.path) == (marked(text), path)
    assert reason in issue.message


def test_contradicting_schedules_point_at_the_rule_they_overlap() -> None:
    """The overlap message gives the line of the earlier rule's schedule."""
    name, rules, _, _ = next(m for m in MISTAKES if m[0] == "overlapping schedules that contradict")
    text = with_rules(rules)
    [issue] = issues_of(text)
    first = next(n for n, line in enumerate(text.splitlines(), 1) if "days: [fri]" in line)
    assert issue.message.endswith(f"(see line {first})"), name


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param(
            '      - {id: a, partners: ["92"], when: {schedule: {days: [fri], from: "22:00", '
            'to: "07:00"}}}\n'
            '      - {id: b, partners: ["92", samu-60], when: {schedule: {days: [sat], '
            'from: "06:00", to: "09:00"}}}\n',
            id="same first partner",
        ),
        pytest.param(
            '      - {id: a, partners: ["92"], when: {schedule: {days: [fri], from: "22:00", '
            'to: "07:00"}}}\n'
            "      - {id: b, partners: [samu-60], when: {schedule: {days: [sat], "
            'from: "07:00", to: "22:00"}}}\n',
            id="windows that only touch",
        ),
        pytest.param(
            '      - {id: a, partners: ["92"], when: {waiting: {at_least: 2}}, '
            "until: {waiting: {at_most: 1}}}\n"
            '      - {id: b, partners: ["92"], when: {available_agents: {at_most: 0}}, '
            "until: {available_agents: {at_least: 2}}}\n",
            id="release thresholds on the right side",
        ),
        pytest.param(
            '      - {id: a, partners: ["92"], when: {waiting: {at_least: 2}}, '
            "until: {oldest_wait_s: {at_most: 10}}}\n",
            id="release on another figure",
        ),
    ],
)
def test_sound_rules_are_accepted(rules: str) -> None:
    """Schedules that agree or do not overlap, and well-placed release thresholds, load."""
    assert spec_of('    "75":\n' + rules).rules
