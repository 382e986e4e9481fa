"""What-if traffic simulation over the pure engine: seeded callers and phones, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from acd.core.ids import AgentId, DeptId
from acd.core.spec import EngineSpec
from acd.sim.outcome import DeptOutcome, SimulationResult, Snapshot, combined
from acd.sim.traffic import Behaviour, Duration, Partners, Shape, Surge
from acd.sim.world import Simulation

__all__ = [
    "Behaviour",
    "DeptOutcome",
    "Duration",
    "Partners",
    "Shape",
    "Simulation",
    "SimulationResult",
    "Snapshot",
    "Surge",
    "combined",
    "run_simulation",
]


def run_simulation(
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
    every_s: float = 60.0,
    on_snapshot: Callable[[Snapshot], None] | None = None,
) -> SimulationResult:
    """Simulate ``duration_s`` seconds of traffic against ``spec``; same seed, same result.

    ``on_snapshot``, if given, sees the figures every ``every_s`` simulated seconds.
    """
    sim = Simulation(
        spec,
        rates=rates,
        duration_s=duration_s,
        seed=seed,
        behaviour=behaviour,
        surges=surges,
        agents=agents,
        drain=drain,
        start_at=start_at,
    )
    if on_snapshot is None:
        return sim.run()
    for snap in sim.snapshots(every_s):
        on_snapshot(snap)
    return sim.result()
