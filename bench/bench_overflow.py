"""Overflow rule evaluation cost: 100 departments × 5 rules × 5 partners, per department.

Run by ``python -m bench overflow`` (wall clock). The same evaluations, without the
clock, can be counted in instructions, which do not move with the machine's load::

    python -m bench.bench_overflow count     # valgrind: instructions per department
    python -m bench.bench_overflow run --settings shared --path alone --passes 20

``count`` runs ``run`` under ``valgrind --tool=callgrind`` with ``--passes`` and with
none, and divides the difference by the evaluations made: the imports, building the
platform and a first pass (which :func:`main` discards too) cancel out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from acd.core import events as ev
from acd.core.commands import Command
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId, DeptId
from acd.core.overflow import (
    AllOf,
    AnyOf,
    CrisisOn,
    Metric,
    OverflowRule,
    OverflowSpec,
    PartnerLimits,
    Schedule,
    ServiceLevelBelow,
    Threshold,
)
from acd.core.testing import simple_spec

DEPTS = 100
RULES = 5
PARTNERS = 5
WAITING_PER_DEPT = 20
PASSES = 20
"""Passes over the 100 departments counted by ``count``."""
ROOT = Path(__file__).resolve().parent.parent


def _rules(depts: list[str], *, shared: bool) -> tuple[OverflowRule, ...]:
    """Five rules per department, of every condition kind, each with a five-partner chain.

    ``shared``: the rules of a department share their look-ahead settings (as in the
    reference configuration); otherwise each rule has its own (the worst case).
    """
    rules = []
    for i, d in enumerate(depts):
        chain = tuple(depts[(i + k) % len(depts)] for k in range(1, PARTNERS + 1))
        whens = (
            AllOf(
                items=(
                    Threshold(metric=Metric.WAITING, at_least=5),
                    Threshold(metric=Metric.OLDEST_WAIT_S, at_least=0),
                )
            ),
            Threshold(metric=Metric.ESTIMATED_WAIT_S, at_least=10),
            AnyOf(items=(ServiceLevelBelow(share=0.99, window_min=15), CrisisOn())),
            Schedule(days=frozenset(range(1, 8)), start_min=0, end_min=1439),
            Threshold(metric=Metric.AVAILABLE_AGENTS, at_most=0),
        )
        for r, when in enumerate(whens):
            rules.append(
                OverflowRule(
                    id=f"{d}-r{r}",
                    dept=DeptId(d),
                    when=when,
                    partners=chain,
                    # Every partner is as saturated: the whole chain is walked, every time.
                    limits=PartnerLimits(min_available=1, max_waiting=2 if shared else 2 + r),
                    max_per_evaluation=2,
                )
            )
    return tuple(rules)


def _engine(*, shared: bool = True) -> tuple[Engine, list[DeptId], float]:
    depts = [f"{n:03d}" for n in range(DEPTS)]
    spec = simple_spec(depts=tuple(depts), agents_per_dept=2)
    rules = _rules(depts, shared=shared)
    engine = Engine(replace(spec, overflow=OverflowSpec(rules=rules)))
    now = 1_780_000_000.0
    for d in depts:
        for a in range(2):
            engine.handle(ev.AgentLoggedIn(agent=AgentId(f"{d}-a{a}")), now)
        for c in range(WAITING_PER_DEPT):
            engine.handle(ev.CallArrived(call=CallId(f"p/{d}-{c}"), dept=DeptId(d)), now)
    return engine, [DeptId(d) for d in depts], now + 30


def _per_department_us(
    engine: Engine, depts: list[DeptId], now: float, *, periodic: bool
) -> list[float]:
    """Microseconds per department: one periodic round over all, or each alone (arrival)."""
    out: list[Command] = []
    samples = []
    for _ in range(30):
        started = time.perf_counter_ns()
        if periodic:
            engine.evaluate_all(now, out)
        else:
            for d in depts:
                engine.evaluate_dept(d, now, out)
        samples.append((time.perf_counter_ns() - started) / len(depts) / 1000)
        out.clear()
    return samples[1:]  # the first pass also records every rule turning active


def main() -> None:
    """Print the cost of one department's evaluation (all its rules fire, no partner can take)."""
    print(f"departments={DEPTS} rules/department={RULES} partners/rule={PARTNERS}")
    print(f"waiting per department={WAITING_PER_DEPT}; 4 of 5 rules active, every partner refused")
    bare = Engine(simple_spec(depts=("75",), agents_per_dept=2))
    engine, depts, now = _engine(shared=True)
    base = _per_department_us(bare, [DeptId("75")] * len(depts), now, periodic=False)
    print(f"baseline (department without rules): median {statistics.median(base):.2f} µs")
    for shared in (True, False):
        engine, depts, now = _engine(shared=shared)
        label = "shared look-ahead settings" if shared else "distinct settings per rule"
        for periodic in (True, False):
            samples = _per_department_us(engine, depts, now, periodic=periodic)
            p50 = statistics.median(samples)
            how = "periodic round" if periodic else "one department alone"
            verdict = "met" if p50 <= 50 else "NOT met"
            print(
                f"{label}, {how}: median {p50:.1f} µs, worst run {max(samples):.1f} µs"
                f" per department (goal ≤ 50 µs: {verdict})"
            )


def replay(passes: int, *, shared: bool, periodic: bool) -> None:
    """The evaluations :func:`main` times, without the clock (what ``count`` measures)."""
    engine, depts, now = _engine(shared=shared)
    out: list[Command] = []
    engine.evaluate_all(now, out)  # a first pass, discarded as main() discards it
    out.clear()
    for _ in range(passes):
        if periodic:
            engine.evaluate_all(now, out)
        else:
            for d in depts:
                engine.evaluate_dept(d, now, out)
        out.clear()


def callgrind_total(passes: int, settings: str, path: str) -> int:
    """Instructions executed by one ``run`` process under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "bench.bench_overflow",
            "run",
            f"--passes={passes}",
            f"--settings={settings}",
            f"--path={path}",
        ]
        # A fixed string hash: dict probing is then the same from one run to the next.
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)
        for line in out.read_text().splitlines():
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise RuntimeError("no totals line in the callgrind output")


def cli(argv: list[str]) -> None:
    """``count`` or ``run`` (see the module's docstring); no argument: :func:`main`."""
    if not argv:
        main()
        return
    parser = argparse.ArgumentParser(prog="python -m bench.bench_overflow")
    parser.add_argument("action", choices=("count", "run"))
    parser.add_argument("--passes", type=int, default=PASSES)
    parser.add_argument("--settings", choices=("shared", "distinct"), default="shared")
    parser.add_argument("--path", choices=("periodic", "alone"), default="alone")
    args = parser.parse_args(argv)
    if args.action == "run":
        replay(args.passes, shared=args.settings == "shared", periodic=args.path == "periodic")
        return
    print(f"instructions per department evaluation ({args.passes} passes × {DEPTS})")
    for settings in ("shared", "distinct"):
        for path in ("periodic", "alone"):
            full = callgrind_total(args.passes, settings, path)
            base = callgrind_total(0, settings, path)
            per = (full - base) / (args.passes * DEPTS)
            print(f"{settings} settings, {path}: {per:,.0f}")


if __name__ == "__main__":
    cli(sys.argv[1:])
