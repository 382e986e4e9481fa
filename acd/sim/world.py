"""A discrete-event simulation: world happenings and engine deadlines, strictly in time order."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterator, Mapping

from acd.core import events as ev
from acd.core.ids import AgentId, DeptId
from acd.core.spec import EngineSpec
from acd.sim.actors import Actors, Phase
from acd.sim.outcome import SimulationResult, Snapshot
from acd.sim.traffic import Behaviour, Surge

DRAIN_LIMIT_S = 6 * 3600.0
"""How long a draining simulation may run past its duration, whatever is left."""


class Simulation(Actors):
    """Callers, phones and partners around one engine, advanced by simulated time only.

    Nothing reads a clock: time is the next happening of the world's agenda or the
    engine's next deadline, whichever comes first (the deadline on a tie, as the runtime
    ticks due deadlines before it delivers an event). Arrivals are generated for
    ``duration_s``; with ``drain`` the run then goes on until every caller has left.
    ``start_at`` is the engine's clock at the start (seconds since the epoch): night
    pooling schedules read it.
    """

    def __init__(
        self,
        spec: EngineSpec,
        *,
        rates: Mapping[DeptId, float],
        duration_s: float,
        seed: int,
        behaviour: Behaviour | None = None,
        surges: tuple[Surge, ...] = (),
        agents: Collection[AgentId] | None = None,
        drain: bool = False,
        start_at: float = 0.0,
    ) -> None:
        behaviour = behaviour or Behaviour()
        _check(spec, rates, behaviour, duration_s)
        super().__init__(
            spec,
            rates=rates,
            seed=seed,
            start_at=start_at,
            duration_s=duration_s,
            behaviour=behaviour,
            surges=surges,
        )
        self.drain = drain
        self.stop_at = self.end_at + (DRAIN_LIMIT_S if drain else 0.0)
        self.start(agents)

    @property
    def elapsed_s(self) -> float:
        """Simulated seconds since the start."""
        return self.now - self.start_at

    @property
    def finished(self) -> bool:
        """Whether the run is over (its duration reached, and drained if asked)."""
        return self.now >= self.stop_at or self._drained()

    def _drained(self) -> bool:
        return self.drain and self.now >= self.end_at and not self.live

    def advance(self, elapsed_s: float) -> None:
        """Run until ``elapsed_s`` simulated seconds after the start (never past the end)."""
        stop = min(self.start_at + elapsed_s, self.stop_at)
        while not self._drained():
            deadline = self.engine.next_deadline()
            due = math.inf if deadline is None else deadline
            at = min(due, self.agenda.next_at())
            if at > stop:
                break
            self.now = max(self.now, at)
            if due <= at:
                self.send(ev.Tick())
            else:
                happening = self.agenda.pop()
                self.happen[happening.kind](happening)
        if not self._drained():
            self.now = max(self.now, stop)

    def snapshots(self, every_s: float) -> Iterator[Snapshot]:
        """Advance ``every_s`` simulated seconds at a time, yielding a snapshot after each."""
        if every_s <= 0:
            raise ValueError("the snapshot interval must be positive")
        while not self.finished:
            target = self.elapsed_s + every_s
            if not self.drain:
                target = min(target, self.duration_s)
            self.advance(target)
            yield self.snapshot()

    def run(self) -> SimulationResult:
        """Run to the end and return the result."""
        self.advance(self.stop_at - self.start_at)
        return self.result()

    def snapshot(self) -> Snapshot:
        """The figures as they stand now."""
        waiting = dict.fromkeys(self.tally, 0)
        talking = dict.fromkeys(self.tally, 0)
        for caller in self.live.values():
            counts = talking if caller.phase is Phase.TALKING else waiting
            counts[caller.dept] += 1
        engine, now = self.engine, self.now
        return Snapshot(
            at=now,
            elapsed_s=self.elapsed_s,
            outcomes={
                d: t.freeze(d, waiting=waiting[d], talking=talking[d])
                for d, t in self.tally.items()
            },
            dept_stats={d.id: engine.dept_stats(d.id, now) for d in self.spec.departments},
            agents_by_state=Counter(engine.agent(a.id).state for a in self.spec.agents),
            events_handled=self.events_handled,
        )

    def result(self) -> SimulationResult:
        """The figures as they stand now, as the result of the run."""
        return SimulationResult(seed=self.seed, duration_s=self.duration_s, final=self.snapshot())


def _check(
    spec: EngineSpec, rates: Mapping[DeptId, float], behaviour: Behaviour, duration_s: float
) -> None:
    unknown = sorted(set(rates) - {d.id for d in spec.departments})
    if unknown:
        raise ValueError(f"rates name unknown departments: {', '.join(unknown)}")
    if any(rate < 0 for rate in rates.values()):
        raise ValueError("an arrival rate cannot be negative")
    queues = {q.id for q in spec.queues}
    strays = sorted(q for q, _ in behaviour.queue_shares if q not in queues)
    if strays:
        raise ValueError(f"queue shares name unknown queues: {', '.join(strays)}")
    if not duration_s > 0:
        raise ValueError("the duration must be positive")
