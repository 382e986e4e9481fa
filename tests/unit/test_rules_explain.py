"""`acd rules explain`: which rule fires and where calls go, with the engine's verdicts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from acd.cli import main
from acd.core import events as ev
from acd.core.commands import CallRecord, Command, OverflowCall, OverflowHeld, Reason
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId, DeptId
from acd.core.overflow import (
    ExternalPartner,
    Metric,
    OverflowRule,
    OverflowSpec,
    PartnerLimits,
    Threshold,
)
from acd.core.states import CallState
from acd.core.testing import Driver, simple_spec
from acd.rules_explain import look_ahead

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "tests" / "data" / "configs" / "overflow-platform.yaml"
BAD_CONFIG = ROOT / "tests" / "data" / "configs" / "unknown_partner.yaml"
ISSUE_LINE = re.compile(r"^(?P<file>.+\.yaml):(?P<line>\d+) (?P<path>\S+): (?P<reason>.+)$")

D75 = DeptId("75")
SAMU60 = ExternalPartner(id="samu-60", name="SAMU 60", number="0300000060", trunk="PJSIP/t")
SAMU45 = ExternalPartner(
    id="samu-45", name="SAMU 45", number="0300000045", trunk="PJSIP/t", accept_blind=True
)

Decision = tuple[str | None, dict[str, str]]
"""The partner a call goes to (``None``: held), and the partners skipped with the reason."""


# -- the dry run's look-ahead agrees with the engine ----------------------------------------


def _platform(setup: Callable[[Driver], None], waiting_in_75: int) -> Driver:
    """Departments 75, 92 and 93 with two agents each, set up, then calls waiting in 75."""
    spec = simple_spec(depts=("75", "92", "93"), agents_per_dept=2)
    d = Driver(Engine(replace(spec, overflow=OverflowSpec(partners=(SAMU60, SAMU45)))))
    setup(d)
    for n in range(waiting_in_75):
        d.send(ev.CallArrived(call=CallId(f"pbx1/75-{n}"), dept=D75), after=1)
    return d


def _login(*agents: str) -> Callable[[Driver], None]:
    def setup(d: Driver) -> None:
        for agent in agents:
            d.send(ev.AgentLoggedIn(agent=AgentId(agent)), after=1)

    return setup


def _calls_in(
    dept: str, n: int, then: Callable[[Driver], None] | None = None
) -> Callable[[Driver], None]:
    def setup(d: Driver) -> None:
        for k in range(n):
            d.send(ev.CallArrived(call=CallId(f"pbx1/{dept}-{k}"), dept=DeptId(dept)), after=1)
        if then is not None:
            then(d)

    return setup


def _published(
    partner: str, *, waiting: int, available: int, ewt: float | None, age_s: float = 0.0
) -> Callable[[Driver], None]:
    def setup(d: Driver) -> None:
        load = ev.PartnerLoadReported(
            partner=partner,
            waiting=waiting,
            available_agents=available,
            estimated_wait_s=ewt,
            at=d.now - age_s,
        )
        d.send(load)

    return setup


def _both(*setups: Callable[[Driver], None]) -> Callable[[Driver], None]:
    def setup(d: Driver) -> None:
        for s in setups:
            s(d)

    return setup


def _rule(partners: tuple[str, ...], **kw: Any) -> OverflowRule:
    return OverflowRule(
        id="75-saturation",
        dept=D75,
        when=Threshold(metric=Metric.WAITING, at_least=1),
        partners=partners,
        **kw,
    )


def _predicted(engine: Engine, rule: OverflowRule, now: float) -> list[Decision]:
    """What the dry run's look-ahead decides for each call of the batch."""
    origin = engine.dept_load(rule.dept, now)
    blind = {p.id for p in engine.overflow.partners if p.accept_blind}
    loads = {pid: engine.partner_load(pid, now) for pid in rule.partners}
    sent_to: dict[str, int] = {}
    decisions: list[Decision] = []
    for _ in range(min(rule.max_per_evaluation, origin.waiting)):
        chosen, skipped = None, {}
        for pid in rule.partners:
            verdict = look_ahead(
                rule,
                loads[pid],
                origin.estimated_wait_s,
                sent_to.get(pid, 0),
                accept_blind=pid in blind,
            )
            if verdict.refusal is None:
                chosen = pid
                sent_to[pid] = sent_to.get(pid, 0) + 1
                break
            skipped[pid] = verdict.refusal
        decisions.append((chosen, skipped))
    return decisions


def _skips(reason: Reason) -> dict[str, str]:
    return {
        k.removeprefix("skipped:"): str(v) for k, v in reason.values if k.startswith("skipped:")
    }


def _is_move(record: CallRecord, rule: OverflowRule) -> bool:
    """A call moved by the rule into another department's queue (entraide inside)."""
    same = (record.previous, record.state) == (CallState.WAITING, CallState.WAITING)
    return same and record.reason.rule == f"overflow-rule:{rule.id}"


def _decided(out: list[Command], rule: OverflowRule) -> list[Decision]:
    """What the engine decided: each call sent with its skips, or the held skips."""
    decisions: list[Decision] = []
    for c in out:
        if isinstance(c, OverflowCall) or (isinstance(c, CallRecord) and _is_move(c, rule)):
            decisions.append((str(c.reason.get("partner")), _skips(c.reason)))
        elif isinstance(c, OverflowHeld):
            decisions.append((None, _skips(c.reason)))
    return decisions


SCENARIOS = [
    pytest.param(
        _login("93-a0"),
        _rule(("92", "93"), limits=PartnerLimits(better_than_origin=False)),
        id="first partner has nobody free",
    ),
    pytest.param(
        _calls_in("92", 2),
        _rule(
            ("92", "93"),
            limits=PartnerLimits(min_available=0, max_waiting=1, better_than_origin=False),
        ),
        id="first partner has too many waiting",
    ),
    pytest.param(
        _published("samu-60", waiting=0, available=2, ewt=20.0),
        _rule(
            ("92", "samu-60"),
            limits=PartnerLimits(min_available=0, max_estimated_wait_s=30),
        ),
        id="estimated wait above the limit, then a published load",
    ),
    pytest.param(
        _calls_in("75", 0, _login("93-a0")),
        _rule(("92", "93"), limits=PartnerLimits(min_available=0, better_than_origin=True)),
        id="partner not better than the origin",
    ),
    pytest.param(
        _login("92-a0", "92-a1"),
        _rule(("92",), limits=PartnerLimits(better_than_origin=False), max_per_evaluation=3),
        id="internal partner charged with the calls already sent",
    ),
    pytest.param(
        _published("samu-60", waiting=0, available=3, ewt=0.0, age_s=30),
        _rule(("samu-60", "samu-45"), max_per_evaluation=2),
        id="stale load skipped, blind partner takes two",
    ),
    pytest.param(
        _both(_published("samu-60", waiting=0, available=2, ewt=5.0), _login("93-a0", "93-a1")),
        _rule(("samu-60", "93"), max_per_evaluation=3, max_share_of_free=0.5),
        id="share of free agents capped",
    ),
    pytest.param(
        _login(),
        _rule(("92", "samu-60")),
        id="nobody can take the call",
    ),
]


@pytest.mark.parametrize(("setup", "rule"), SCENARIOS)
def test_dry_run_look_ahead_agrees_with_the_engine(
    setup: Callable[[Driver], None], rule: OverflowRule
) -> None:
    """Call by call, the dry run picks the engine's partner and skips for the engine's reason."""
    d = _platform(setup, waiting_in_75=4)
    engine = d.engine
    engine.reconfigure_overflow(replace(engine.overflow, rules=(rule,)), d.now)
    due = engine.next_deadline()
    assert due is not None
    predicted = _predicted(engine, rule, due)
    out = d.advance(due)
    decided = _decided(out, rule)
    sent = [p for p in predicted if p[0] is not None]
    if sent:
        assert decided == sent
    else:
        assert decided == [predicted[0]]


# -- the report -----------------------------------------------------------------------------


Capture = pytest.CaptureFixture[str]


def _run(
    tmp_path: Path, capsys: Capture, snapshot: Any, *extra: str, config: Path = PLATFORM
) -> tuple[int, str, str]:
    """Run `acd rules explain` on a snapshot; return the status, output and errors."""
    state = tmp_path / "snapshot.json"
    state.write_text(json.dumps(snapshot), encoding="utf-8")
    status = main(["rules", "explain", str(config), "--state", str(state), *extra])
    out, err = capsys.readouterr()
    return status, out, err


SATURATED = {
    "at": "2026-07-14T15:00:00+02:00",
    "departments": {
        "75": {
            "waiting": 12,
            "oldest_wait_s": 140,
            "estimated_wait_s": 300,
            "available_agents": 0,
            "logged_in_agents": 6,
        },
        "92": {"waiting": 0, "available_agents": 0, "logged_in_agents": 5},
        "93": {"waiting": 1, "available_agents": 2, "logged_in_agents": 7, "estimated_wait_s": 15},
    },
    "partners": {"samu-60": {"waiting": 0, "available_agents": 3, "estimated_wait_s": 20}},
}


def test_saturated_department_fires_and_walks_its_chain(tmp_path: Path, capsys: Capture) -> None:
    """Paris saturated: the rule fires on its figures, 92 is skipped, 93 takes the call."""
    status, out, err = _run(tmp_path, capsys, SATURATED)
    assert (status, err) == (0, "")
    assert "75 SAMU de Paris: 12 waiting (oldest 140 s), estimated wait 300 s" in out
    assert "rule 75-crise: does not fire (crisis mode off)" in out
    assert "rule 75-saturation: FIRES (waiting=12 ≥ 5, oldest_wait_s=140 ≥ 60)" in out
    assert "once on, stops when waiting ≤ 1: now waiting=12 > 1, stays on" in out
    assert "→ 92: skipped (available=0 < 1)" in out
    assert (
        "→ 93: would take the call (waiting=1, available=2, estimated wait 15 s < origin 300 s)"
        in out
    )
    assert "sends 2 call(s) now (oldest first): 93 ×1, samu-60 ×1" in out


def test_dry_run_says_rules_start_inactive(tmp_path: Path, capsys: Capture) -> None:
    """The report warns that hysteresis and cooldown are not carried over."""
    _, out, _ = _run(tmp_path, capsys, SATURATED)
    assert "Dry run at Tue 2026-07-14 15:00 (Europe/Paris): nothing is sent." in out
    assert "Every rule is taken as off before this evaluation" in out


def test_calls_too_recent_to_leave_fall_through_to_the_next_rule(
    tmp_path: Path, capsys: Capture
) -> None:
    """A firing rule whose calls have not waited min_wait_s sends nothing."""
    snapshot = json.loads(json.dumps(SATURATED))
    snapshot["departments"]["75"]["oldest_wait_s"] = 10
    snapshot["departments"]["75"]["waiting"] = 6
    _, out, _ = _run(tmp_path, capsys, snapshot)
    assert "rule 75-saturation: does not fire (waiting=6 ≥ 5, oldest_wait_s=10 < 60)" in out


def test_crisis_mode_fires_first_and_later_rules_wait(tmp_path: Path, capsys: Capture) -> None:
    """Plan blanc: the crisis rule sends calls and the saturation rule is not evaluated."""
    snapshot = json.loads(json.dumps(SATURATED))
    snapshot["departments"]["75"]["crisis"] = True
    _, out, _ = _run(tmp_path, capsys, snapshot)
    assert "rule 75-crise: FIRES (crisis mode on)" in out
    assert "not evaluated, the rule above sends calls: 75-saturation" in out
    assert "rule 75-saturation: FIRES" not in out


NIGHT = {
    "departments": {"77": {"waiting": 2, "estimated_wait_s": 90}, "94": {"available_agents": 1}}
}


@pytest.mark.parametrize(
    ("at", "fires", "local"),
    [
        ("2026-07-17T23:30", True, "Fri 23:30 is inside"),
        ("2026-07-18T06:59", True, "Sat 06:59 is inside"),
        ("2026-07-19T06:30", True, "Sun 06:30 is inside"),
        ("2026-07-18T07:00", False, "Sat 07:00 is outside"),
        ("2026-07-20T06:30", False, "Mon 06:30 is outside"),
        ("2026-07-16T23:00", False, "Thu 23:00 is outside"),
    ],
)
def test_weekend_night_pooling_follows_its_window_across_midnight(
    tmp_path: Path, capsys: Capture, at: str, fires: bool, local: str
) -> None:
    """Friday and Saturday nights 22:00–07:00 run into the next morning, not Sunday night."""
    _, out, _ = _run(tmp_path, capsys, NIGHT, "--at", at)
    line = next(line for line in out.splitlines() if "rule 77-nuit" in line)
    assert ("FIRES" in line) is fires
    assert f"{local} schedule fri, sat 22:00–07:00 (Europe/Paris)" in line
    if fires:
        assert "→ 94: would take the call (waiting=0, available=1, estimated wait unknown)" in out


def test_unknown_partner_load_is_skipped_unless_blind(tmp_path: Path, capsys: Capture) -> None:
    """A partner with no published load is skipped; one accepting blind calls takes them."""
    snapshot = {"departments": {"93": {"waiting": 4, "estimated_wait_s": 200}}}
    _, out, _ = _run(tmp_path, capsys, snapshot, "--at", "2026-07-14T12:00:00+02:00")
    assert "rule 93-saturation: FIRES (waiting=4 ≥ 3)" in out
    assert "→ samu-60: skipped (load unknown: not in the snapshot)" in out
    assert "→ samu-45: would take the call blind (load unknown: not in the snapshot" in out
    assert "sends 2 call(s) now (oldest first): samu-45 ×2" in out


def test_a_stale_published_load_counts_as_unknown(tmp_path: Path, capsys: Capture) -> None:
    """A load published longer ago than partner_load_ttl_s is not trusted."""
    snapshot = {
        "departments": {"93": {"waiting": 3}},
        "partners": {"samu-60": {"waiting": 0, "available_agents": 2, "age_s": 30}},
    }
    _, out, _ = _run(tmp_path, capsys, snapshot, "--at", "2026-07-14T12:00")
    assert "→ samu-60: skipped (load unknown: published 30 s ago, older than 10 s)" in out


def test_a_rule_without_condition_is_always_on(tmp_path: Path, capsys: Capture) -> None:
    """92's plain chain fires whatever the figures, the look-ahead deciding alone."""
    snapshot = {"departments": {"92": {"waiting": 1}, "75": {"available_agents": 1}}}
    _, out, _ = _run(tmp_path, capsys, snapshot, "--at", "2026-07-14T12:00")
    assert "rule 92-entraide: FIRES (always on: the rule has no 'when')" in out
    assert "→ 75: skipped (estimated wait unknown not shorter than origin unknown)" in out
    assert "no partner can take a call now: the calls stay here, next rule" in out


def test_departments_missing_from_the_snapshot_are_not_evaluated(
    tmp_path: Path, capsys: Capture
) -> None:
    """A department the snapshot does not give is named and left out."""
    _, out, _ = _run(tmp_path, capsys, {"departments": {}}, "--at", "2026-07-14T12:00")
    assert "77 SAMU de Seine-et-Marne: not in the snapshot, not evaluated" in out


# -- exit statuses --------------------------------------------------------------------------


def test_an_invalid_configuration_exits_2_with_file_line_path_reason(
    tmp_path: Path, capsys: Capture
) -> None:
    """A configuration with a mistake is reported as for `acd config check`."""
    status, out, err = _run(tmp_path, capsys, SATURATED, config=BAD_CONFIG)
    assert (status, out) == (2, "")
    match = ISSUE_LINE.match(err.splitlines()[0])
    assert match is not None, err
    assert match["path"] == "overflow.rules.75[0].partners[1]"


@pytest.mark.parametrize(
    ("snapshot", "message"),
    [
        (
            {"departments": {"75": {"waiting": "douze"}}},
            'departments.75.waiting: expected an integer ≥ 0, got "douze"',
        ),
        (
            {"departments": {"75": {"waiting": 2, "available_agents": -1}}},
            "departments.75.available_agents: expected an integer ≥ 0, got -1",
        ),
        ({"departments": {"99": {}}}, "departments.99: unknown department (known: 75, 77"),
        (
            {"partners": {"samu-99": {"waiting": 0, "available_agents": 1}}},
            "partners.samu-99: unknown partner (known: samu-45, samu-60)",
        ),
        ({"partners": {"samu-60": {"waiting": 0}}}, "partners.samu-60.available_agents: required"),
        ({"departments": {"75": {"crisis": "oui"}}}, "departments.75.crisis: expected true or"),
        (
            {"departments": {"75": {"service_level": {"15": 72}}}},
            "departments.75.service_level.15: a share is 0 to 1, got 72",
        ),
        ({"departments": {"75": {"waitng": 3}}}, "departments.75.waitng: unknown field"),
        ({"at": "hier soir"}, "at: 'hier soir' is not an ISO 8601 time"),
        ([], "expected an object"),
    ],
)
def test_a_bad_snapshot_exits_2_naming_the_field(
    tmp_path: Path, capsys: Capture, snapshot: Any, message: str
) -> None:
    """Every snapshot mistake names its path in the JSON and the reason."""
    status, out, err = _run(tmp_path, capsys, snapshot)
    assert (status, out) == (2, "")
    assert err.startswith(f"{tmp_path / 'snapshot.json'}: ")
    assert message in err


def test_a_snapshot_that_is_not_json_exits_2_with_its_line(tmp_path: Path, capsys: Capture) -> None:
    """A JSON syntax error gives the line where parsing stopped."""
    state = tmp_path / "snapshot.json"
    state.write_text('{\n  "departments": {,\n}', encoding="utf-8")
    assert main(["rules", "explain", str(PLATFORM), "--state", str(state)]) == 2


def test_a_bad_at_option_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--at` must be an ISO 8601 time."""
    state = tmp_path / "snapshot.json"
    state.write_text("{}", encoding="utf-8")
    assert main(["rules", "explain", str(PLATFORM), "--state", str(state), "--at", "22h"]) == 2
    assert "--at: '22h' is not an ISO 8601 time" in capsys.readouterr().err


def test_a_missing_snapshot_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable snapshot file is reported, nothing is printed on the output."""
    missing = tmp_path / "none.json"
    assert main(["rules", "explain", str(PLATFORM), "--state", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "cannot read the snapshot" in err


def test_a_valid_dry_run_exits_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A valid configuration and snapshot exit 0 with the report on the output."""
    state = tmp_path / "snapshot.json"
    state.write_text(json.dumps(SATURATED), encoding="utf-8")
    assert main(["rules", "explain", str(PLATFORM), "--state", str(state)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{PLATFORM} (version ")
    assert err == ""


def test_help_documents_the_snapshot_format(capsys: pytest.CaptureFixture[str]) -> None:
    """`acd rules explain --help` shows the JSON snapshot format."""
    with pytest.raises(SystemExit) as caught:
        main(["rules", "explain", "--help"])
    assert caught.value.code == 0
    text = capsys.readouterr().out
    assert '"departments"' in text
    assert "partner_load_ttl_s" in text


def test_rules_without_an_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """`acd rules` alone is a usage error (status 2)."""
    with pytest.raises(SystemExit) as caught:
        main(["rules"])
    assert caught.value.code == 2
    assert "ACTION" in capsys.readouterr().err
