"""``acd simulate``: a what-if run on the reference configuration, and the real-time mode."""

from __future__ import annotations

import argparse
import io
import re
from dataclasses import replace
from pathlib import Path

import pytest

from acd.core.ids import DeptId
from acd.core.testing import simple_spec
from acd.sim.cli import DEMO_BEHAVIOUR, default_rates, register_simulate, simulate_command

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "configs" / "acd.yaml"
START = 1_700_000_000.0
PHONE_NUMBER = re.compile(r"0[1-9]\d{8}")


class FakeWallClock:
    """A wall clock that moves only when the command sleeps."""

    def __init__(self, *, interrupt_after: int | None = None) -> None:
        self.t = 0.0
        self.sleeps = 0
        self.interrupt_after = interrupt_after

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.interrupt_after is not None and self.sleeps > self.interrupt_after:
            raise KeyboardInterrupt
        self.t += seconds


@pytest.mark.skipif(not REFERENCE.exists(), reason="the reference configuration is not written yet")
def test_what_if_on_the_reference_configuration_prints_a_summary() -> None:
    """A flat-out run of ten minutes exits 0 with one summary line per department."""
    out = io.StringIO()
    status = simulate_command(
        str(REFERENCE),
        rate_scale=1.0,
        duration_s=600,
        seed=1,
        realtime=False,
        out=out,
        start_at=START,
    )
    text = out.getvalue()
    assert status == 0
    assert "simulation of" in text
    assert "simulated 10:00" in text
    for dept in ("75", "77", "78", "91", "92", "93", "94", "95", "all"):
        assert re.search(rf"^{dept} ", text, re.MULTILINE)
    assert not PHONE_NUMBER.search(text)


def test_an_unreadable_configuration_exits_2_with_the_reason(tmp_path: Path) -> None:
    """A missing file is reported on the error stream, nothing is simulated."""
    out, err = io.StringIO(), io.StringIO()
    status = simulate_command(
        str(tmp_path / "missing.yaml"),
        rate_scale=1.0,
        duration_s=60,
        seed=1,
        realtime=False,
        out=out,
        err=err,
    )
    assert status == 2
    assert "cannot read" in err.getvalue()
    assert out.getvalue() == ""


@pytest.mark.skipif(not REFERENCE.exists(), reason="the reference configuration is not written yet")
def test_real_time_prints_a_table_every_two_seconds_until_the_duration() -> None:
    """Ten seconds at wall speed: five tables, then the summary."""
    wall = FakeWallClock()
    out = io.StringIO()
    status = simulate_command(
        str(REFERENCE),
        rate_scale=1.0,
        duration_s=10,
        seed=2,
        realtime=True,
        out=out,
        start_at=START,
        clock=wall,
        sleep=wall.sleep,
    )
    text = out.getvalue()
    assert status == 0
    assert re.findall(r"^t=(\S+)", text, re.MULTILINE) == ["0:02", "0:04", "0:06", "0:08", "0:10"]
    assert "simulation of" in text


@pytest.mark.skipif(not REFERENCE.exists(), reason="the reference configuration is not written yet")
def test_ctrl_c_in_real_time_ends_with_a_summary() -> None:
    """An endless run interrupted by Ctrl-C prints what it has so far and exits 0."""
    wall = FakeWallClock(interrupt_after=3)
    out = io.StringIO()
    status = simulate_command(
        str(REFERENCE),
        rate_scale=1.0,
        duration_s=None,
        seed=3,
        realtime=True,
        out=out,
        start_at=START,
        clock=wall,
        sleep=wall.sleep,
        speed=30.0,
    )
    text = out.getvalue()
    assert status == 0
    assert "interrupted" in text
    assert "simulated 3:00" in text


def test_default_rates_follow_each_department_s_own_agents() -> None:
    """A department with twice the agents gets twice the traffic; a scale multiplies all."""
    four_each = simple_spec(depts=("75", "92"), agents_per_dept=4)
    spec = replace(four_each, agents=four_each.agents[:6])
    rates = default_rates(spec, DEMO_BEHAVIOUR)
    assert rates[DeptId("75")] == pytest.approx(2 * rates[DeptId("92")])
    assert rates[DeptId("75")] == pytest.approx(0.7 * 4 / 100)
    doubled = default_rates(spec, DEMO_BEHAVIOUR, scale=2.0)
    assert doubled[DeptId("92")] == pytest.approx(2 * rates[DeptId("92")])


@pytest.mark.skipif(not REFERENCE.exists(), reason="the reference configuration is not written yet")
def test_the_simulate_subcommand_parses_its_options_and_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``simulate -c FILE --what-if --duration 300`` runs flat out and prints the summary."""
    parser = argparse.ArgumentParser(prog="acd")
    register_simulate(parser.add_subparsers())
    args = parser.parse_args(
        ["simulate", "-c", str(REFERENCE), "--what-if", "--duration", "300", "--rate-scale", "2"]
    )
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "arrival rates ×2" in out
    assert "simulated 5:00" in out
