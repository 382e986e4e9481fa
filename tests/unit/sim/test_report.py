"""The terminal tables: one line per department and a total, durations and shares readable."""

from __future__ import annotations

import re

from acd.core.ids import DeptId
from acd.core.testing import simple_spec
from acd.sim import Simulation
from acd.sim.report import clock, live_table, percent, summary

SPEC = simple_spec(depts=("75", "92"), agents_per_dept=3)
PHONE_NUMBER = re.compile(r"0[1-9]\d{8}")


def test_clock_reads_minutes_then_hours() -> None:
    """Under an hour ``m:ss``, beyond ``h:mm:ss``; never negative."""
    assert clock(41.9) == "0:41"
    assert clock(3725) == "1:02:05"
    assert clock(-3) == "0:00"


def test_percent_shows_a_dash_when_nothing_was_measured() -> None:
    """A share is a whole percentage; ``None`` is an em dash."""
    assert percent(0.8449) == "84%"
    assert percent(None) == "—"


def test_live_table_lists_every_department_and_the_total() -> None:
    """Header, one row per department, a total row, under the elapsed time."""
    sim = Simulation(SPEC, rates={DeptId("75"): 0.05}, duration_s=600, seed=1)
    sim.advance(300)
    text = live_table(sim.snapshot())
    lines = text.splitlines()
    assert lines[0].startswith("t=5:00")
    assert lines[1].split()[:3] == ["dept", "waiting", "longest"]
    assert [line.split()[0] for line in lines[2:]] == ["75", "92", "all"]
    assert not PHONE_NUMBER.search(text)


def test_summary_shows_fates_and_engine_figures() -> None:
    """The final table carries arrivals, the ≤60 s share, the engine's SL and ASA."""
    result = Simulation(SPEC, rates={DeptId("75"): 0.05}, duration_s=1800, seed=2).run()
    text = summary(result, title="what-if")
    assert text.splitlines()[0] == "what-if"
    assert "simulated 30:00" in text
    assert "≤60s %" in text
    row = next(line for line in text.splitlines() if line.startswith("75 "))
    assert row.split()[1] == str(result.outcomes[DeptId("75")].arrived)
    assert not PHONE_NUMBER.search(text)
