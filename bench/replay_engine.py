"""Engine cost in instructions per event: a recorded mix replayed under callgrind.

Wall-clock rates on a shared machine move by a third between identical runs; the number
of instructions the interpreter executes for the same events does not. This script
records the ``(event, now)`` pairs that ``bench.bench_engine``'s mix simulator sends to
``Engine.handle``, then replays them into a fresh engine: a warm-up slice, then the
measured slice. Run under ``valgrind --tool=callgrind`` with and without the measured
slice, the difference divided by the slice length is the engine's cost per event, with
start-up, imports and the warm-up cancelled out.

Usage (from the repository root, with the project's venv; valgrind for ``count``)::

    python -m bench.replay_engine count             # records if needed, prints Ir/event
    python -m bench.replay_engine count --warmup 30000 --measure 12000
    python -m bench.replay_engine digest            # fingerprint of every command produced
    python -m bench.replay_engine record            # (re)record the trace
    python -m bench.replay_engine run --warmup W --measure M   # what callgrind runs

``digest`` hashes the commands the engine returns for the whole trace: two versions of
the engine that decide the same print the same digest (a behaviour check for
optimisation work). The trace is recorded once, under ``var/bench/`` (not versioned),
and kept: the same file replays into every later version of the engine.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

from acd.core import events as ev
from acd.core.commands import Command
from acd.core.engine import Engine
from bench.bench_engine import MixSimulator, mix_spec

ROOT = Path(__file__).resolve().parent.parent
TRACE = ROOT / "var" / "bench" / "engine-replay.pickle"
RECORDED = 60_000
"""Events recorded: the 2,000 logins, then the mix as the simulator plays it."""
WARMUP = 8_000
MEASURE = 12_000

Trace = list[tuple[ev.Event, float]]


def record(events: int = RECORDED) -> Trace:
    """The first ``events`` ``(event, now)`` pairs the mix simulator sends to the engine."""
    sim = MixSimulator()
    trace: Trace = []
    handle = sim.engine.handle

    def recording(event: ev.Event, now: float) -> list[Command]:
        trace.append((event, now))
        return handle(event, now)

    sim.engine.handle = recording  # type: ignore[method-assign]
    for agent in sim.agents:
        sim.send(ev.AgentLoggedIn(agent=agent))
    sim.arrival()
    while len(trace) < events:
        sim.step()
    return trace[:events]


def load(path: Path = TRACE) -> Trace:
    """The recorded trace, recorded first if missing."""
    if not path.exists():
        save(record(), path)
    trace: Trace = pickle.loads(path.read_bytes())
    return trace


def save(trace: Trace, path: Path) -> None:
    """Write a recorded trace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(trace, protocol=pickle.HIGHEST_PROTOCOL))


def replay(trace: Trace, warmup: int, measure: int) -> None:
    """Play ``warmup`` events into a fresh engine, then ``measure`` more."""
    engine = Engine(mix_spec())
    handle = engine.handle
    for event, now in trace[:warmup]:
        handle(event, now)
    for event, now in trace[warmup : warmup + measure]:
        handle(event, now)


def digest(trace: Trace) -> tuple[str, int]:
    """A fingerprint of every command the engine returns over the trace, and their count."""
    engine = Engine(mix_spec())
    h = hashlib.sha256()
    commands = 0
    for event, now in trace:
        out = engine.handle(event, now)
        commands += len(out)
        h.update(repr(out).encode())
    return h.hexdigest(), commands


def callgrind_total(warmup: int, measure: int, trace: Path) -> int:
    """Instructions executed by one replay process under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "bench.replay_engine",
            "run",
            f"--warmup={warmup}",
            f"--measure={measure}",
            f"--trace={trace}",
        ]
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        for line in out.read_text().splitlines():
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise RuntimeError("no totals line in the callgrind output")


def main(argv: list[str] | None = None) -> None:
    """``record``, ``run``, ``count`` or ``digest`` (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.replay_engine")
    parser.add_argument("action", choices=("record", "run", "count", "digest"))
    parser.add_argument("--warmup", type=int, default=WARMUP)
    parser.add_argument("--measure", type=int, default=MEASURE)
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--events", type=int, default=RECORDED, help="events to record")
    args = parser.parse_args(argv)
    if args.action == "record":
        trace = record(args.events)
        save(trace, args.trace)
        print(f"recorded {len(trace):,} events to {args.trace}")
    elif args.action == "run":
        replay(load(args.trace), args.warmup, args.measure)
    elif args.action == "digest":
        fingerprint, commands = digest(load(args.trace))
        print(f"{fingerprint}  ({commands:,} commands)")
    else:
        load(args.trace)  # recorded once, outside the measured processes
        full = callgrind_total(args.warmup, args.measure, args.trace)
        base = callgrind_total(args.warmup, 0, args.trace)
        per_event = (full - base) / args.measure
        print(f"replay of {args.trace}: warm-up {args.warmup:,}, measured {args.measure:,}")
        print(f"instructions: {full:,} with the slice, {base:,} without")
        print(f"{per_event:,.0f} instructions per event inside Engine.handle")


if __name__ == "__main__":
    main()
