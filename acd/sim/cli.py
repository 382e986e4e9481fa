"""``acd simulate``: traffic against a configuration; only this module reads the wall clock."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TextIO

from acd.config import ConfigError, build_engine_spec, load_config
from acd.core.ids import DeptId
from acd.core.spec import EngineSpec
from acd.runtime.reload import ConfigReloader, ReloadOutcome, engine_applier
from acd.sim.report import live_table, summary
from acd.sim.traffic import (
    Behaviour,
    Duration,
    Shape,
    default_priority_shares,
    default_queue_shares,
)
from acd.sim.world import Simulation

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK = 0
EXIT_INVALID = 2

OCCUPANCY = 0.7
"""Default load: the calls per second that keep a department's own agents 70 % busy."""
FLOOR_RATE = 0.01
"""Calls per second of a department with no agent of its own (they must go somewhere)."""
WHAT_IF_S = 3600.0
"""A run flat out with no duration simulates one hour."""
REFRESH_S = 2.0
"""Wall-clock seconds between two tables in real-time mode."""

DEMO_BEHAVIOUR = Behaviour(break_every=Duration(shape=Shape.EXPONENTIAL, mean_s=3600.0))
"""Callers and phones as the command simulates them: the defaults, with hourly breaks."""


def default_rates(
    spec: EngineSpec, behaviour: Behaviour, *, scale: float = 1.0
) -> dict[DeptId, float]:
    """Per department, the arrival rate (calls/s) its own agents handle at ``OCCUPANCY``.

    Own agents serve one of the department's queues at penalty 0; a call keeps one of them
    busy for the mean talk time plus the department's first queue's wrap-up.
    """
    wrapup = {q.id: q.wrapup_s for q in spec.queues}
    rates = {}
    for dept in spec.departments:
        own = sum(
            1
            for a in spec.agents
            if any(m.queue in dept.queues and m.penalty == 0 for m in a.memberships)
        )
        handle_s = behaviour.talk.mean_s + wrapup[dept.queues[0]]
        rate = OCCUPANCY * own / handle_s if own else FLOOR_RATE
        rates[dept.id] = rate * scale
    return rates


def simulate_command(
    config_path: str,
    *,
    rate_scale: float,
    duration_s: float | None,
    seed: int,
    realtime: bool,
    out: TextIO,
    err: TextIO | None = None,
    speed: float = 1.0,
    start_at: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Simulate traffic against the configuration at ``config_path``; return the exit status.

    Real time (``make run``): the simulated clock follows the wall clock (times ``speed``)
    and a table is printed every 2 s until ``duration_s`` (``None``: until Ctrl-C). Else
    the run goes flat out (one hour by default) and only the final summary is printed.
    ``start_at`` is when the simulated day starts (seconds since the epoch, what night
    pooling schedules read); ``None``: now, to the second.
    """
    try:
        spec = build_engine_spec(load_config(config_path))
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=err or sys.stderr)
        return EXIT_INVALID
    if rate_scale < 0 or speed <= 0 or (duration_s is not None and duration_s <= 0):
        print("rate scale must be ≥ 0, speed and duration > 0", file=err or sys.stderr)
        return EXIT_INVALID
    behaviour = replace(
        DEMO_BEHAVIOUR,
        priority_shares=default_priority_shares(spec),
        queue_shares=default_queue_shares(spec),
    )
    rates = default_rates(spec, behaviour, scale=rate_scale)
    if duration_s is None:
        duration_s = math.inf if realtime else WHAT_IF_S
    if start_at is None:
        start_at = float(int(time.time()))
    sim = Simulation(
        spec,
        rates=rates,
        duration_s=duration_s,
        seed=seed,
        behaviour=behaviour,
        start_at=start_at,
    )
    print(_banner(config_path, spec, rates, rate_scale, seed), file=out, flush=True)
    try:
        if realtime:
            reloader = ConfigReloader(
                config_path, apply=engine_applier(sim.engine, clock=lambda: sim.now)
            )
            _pace(sim, out=out, speed=speed, clock=clock, sleep=sleep, reloader=reloader)
        else:
            sim.run()
    except KeyboardInterrupt:
        print("\ninterrupted: summary so far", file=out)
    title = f"simulation of {config_path}: arrival rates ×{rate_scale:g}"
    print(summary(sim.result(), title=title, target_s=spec.sl_target_s), file=out, flush=True)
    return EXIT_OK


def _pace(
    sim: Simulation,
    *,
    out: TextIO,
    speed: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    reloader: ConfigReloader | None = None,
) -> None:
    """Advance the simulation with the wall clock; print the live table every ``REFRESH_S``.

    The overflow rules are re-read when the file changes or on SIGHUP, as in service.
    """
    start = clock()
    beat = 0
    hup = _HangupFlag()
    try:
        while not sim.finished:
            beat += 1
            sleep(max(0.0, start + beat * REFRESH_S - clock()))
            sim.advance((clock() - start) * speed)
            if reloader is not None and (hup.take() or reloader.changed_on_disk()):
                _report_reload(reloader.reload(), reloader, out)
            table = live_table(sim.snapshot(), target_s=sim.spec.sl_target_s)
            print(table + "\n", file=out, flush=True)
    finally:
        hup.restore()


class _HangupFlag:
    """Notes a SIGHUP (main thread only; elsewhere only file changes are watched)."""

    def __init__(self) -> None:
        self.raised = False
        self.previous: Any = None
        self.installed = threading.current_thread() is threading.main_thread()
        if self.installed:
            self.previous = signal.signal(signal.SIGHUP, self._on_hup)

    def restore(self) -> None:
        """Give SIGHUP back to whoever had it."""
        if self.installed:
            signal.signal(signal.SIGHUP, self.previous)

    def _on_hup(self, _signum: int, _frame: object) -> None:
        self.raised = True

    def take(self) -> bool:
        raised, self.raised = self.raised, False
        return raised


def _report_reload(outcome: ReloadOutcome, reloader: ConfigReloader, out: TextIO) -> None:
    if outcome.status == "applied":
        print(f"configuration {reloader.current.label} applied", file=out, flush=True)
    elif outcome.status == "rejected":
        print("configuration rejected, the running one stays:", file=out)
        for line in outcome.errors:
            print(f"  {line}", file=out)
        out.flush()


def _banner(
    path: str, spec: EngineSpec, rates: Mapping[DeptId, float], scale: float, seed: int
) -> str:
    per_hour = sum(rates.values()) * 3600
    return (
        f"simulating {path} (version {spec.version}): {len(spec.departments)} departments, "
        f"{len(spec.agents)} agents, {per_hour:.0f} calls/h (rates ×{scale:g}), seed {seed}"
    )


def register_simulate(subparsers: Subparsers) -> None:
    """``acd simulate [-c FILE] [--rate-scale X] [--duration S] [--seed N] [--what-if]``."""
    cmd = subparsers.add_parser(
        "simulate",
        help="simulate callers and ARM against a configuration (what-if, demo)",
        description="Simulated callers and ARM phones drive the real routing engine. "
        "By default the simulation follows the wall clock and prints a table every 2 s "
        "until the duration ends or Ctrl-C; --what-if runs flat out and prints a summary.",
    )
    cmd.add_argument("-c", "--config", default="configs/acd.yaml", help="YAML configuration")
    cmd.add_argument(
        "--rate-scale",
        type=float,
        default=1.0,
        help="multiply every department's arrival rate (default traffic keeps each "
        "department's own ARM 70%% busy); e.g. 10 for a surge",
    )
    cmd.add_argument(
        "--duration",
        type=float,
        default=None,
        help="simulated seconds (default: until Ctrl-C, or one hour with --what-if)",
    )
    cmd.add_argument("--seed", type=int, default=1, help="same seed, same simulation")
    cmd.add_argument(
        "--what-if", action="store_true", help="run as fast as possible, print the summary"
    )
    cmd.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    cmd.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return simulate_command(
        args.config,
        rate_scale=args.rate_scale,
        duration_s=args.duration,
        seed=args.seed,
        realtime=not args.what_if,
        out=sys.stdout,
        speed=args.speed,
    )
