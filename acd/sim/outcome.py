"""What a simulation reports: callers' fates that always add up, next to the engine's own view."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from acd.core.ids import DeptId
from acd.core.states import AgentState
from acd.core.stats import QueueStats


@dataclass(frozen=True, slots=True, kw_only=True)
class DeptOutcome:
    """The fates of the callers of one department (the one they called), at one moment.

    Every caller is in exactly one fate: ``arrived = answered + abandoned + fallback +
    overflowed + waiting``. ``talking`` (answered, still on the phone) and ``moved`` (sent
    by entraide to another department of the platform) say more about some of them.
    """

    dept: DeptId
    arrived: int
    answered: int
    answered_within_target: int
    abandoned: int
    fallback: int
    overflowed: int
    """Taken by an external partner SAMU."""
    waiting: int
    """Not answered yet: queued, ringing an agent, or being offered to a partner."""
    talking: int
    moved: int

    @property
    def decided(self) -> int:
        """Callers the platform answered, lost or handed to its fallback."""
        return self.answered + self.abandoned + self.fallback

    @property
    def service_level(self) -> float | None:
        """Answered within the target among decided callers; ``None`` before any.

        Calls taken by an external partner are left out, as the engine leaves them out:
        their answer time is the partner's.
        """
        return None if self.decided == 0 else self.answered_within_target / self.decided


def combined(outcomes: Collection[DeptOutcome], dept: str = "all") -> DeptOutcome:
    """The sum of several departments' outcomes."""
    return DeptOutcome(
        dept=DeptId(dept),
        arrived=sum(o.arrived for o in outcomes),
        answered=sum(o.answered for o in outcomes),
        answered_within_target=sum(o.answered_within_target for o in outcomes),
        abandoned=sum(o.abandoned for o in outcomes),
        fallback=sum(o.fallback for o in outcomes),
        overflowed=sum(o.overflowed for o in outcomes),
        waiting=sum(o.waiting for o in outcomes),
        talking=sum(o.talking for o in outcomes),
        moved=sum(o.moved for o in outcomes),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """The simulation at one moment: the callers' fates and the engine's figures."""

    at: float
    """The engine's clock (seconds since the epoch when the run was given a start)."""
    elapsed_s: float
    """Simulated seconds since the start of the run."""
    outcomes: Mapping[DeptId, DeptOutcome]
    dept_stats: Mapping[DeptId, QueueStats]
    """The engine's view, by the department that holds each call (entraide moves it)."""
    agents_by_state: Mapping[AgentState, int]
    """Every agent of the platform once, by state (a department's stats count its members)."""
    events_handled: int

    @property
    def total(self) -> DeptOutcome:
        """All departments together."""
        return combined(tuple(self.outcomes.values()))


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationResult:
    """A finished run: its seed and planned duration, and the figures at its end."""

    seed: int
    duration_s: float
    """Simulated seconds of arrivals; a draining run ends later, at ``final.elapsed_s``."""
    final: Snapshot

    @property
    def outcomes(self) -> Mapping[DeptId, DeptOutcome]:
        """Each department's callers' fates at the end."""
        return self.final.outcomes

    @property
    def dept_stats(self) -> Mapping[DeptId, QueueStats]:
        """The engine's statistics per department at the end."""
        return self.final.dept_stats

    @property
    def events_handled(self) -> int:
        """Events the engine handled, ticks included."""
        return self.final.events_handled

    @property
    def total(self) -> DeptOutcome:
        """All departments together."""
        return self.final.total


@dataclass(slots=True)
class Tally:
    """A department's running counts of callers by fate, kept by the world."""

    arrived: int = 0
    answered: int = 0
    within: int = 0
    abandoned: int = 0
    fallback: int = 0
    overflowed: int = 0
    moved: int = 0

    def freeze(self, dept: DeptId, *, waiting: int, talking: int) -> DeptOutcome:
        """The counts as an outcome, with the callers still waiting or talking now."""
        return DeptOutcome(
            dept=dept,
            arrived=self.arrived,
            answered=self.answered,
            answered_within_target=self.within,
            abandoned=self.abandoned,
            fallback=self.fallback,
            overflowed=self.overflowed,
            waiting=waiting,
            talking=talking,
            moved=self.moved,
        )
