"""What the engine is configured with: frozen value objects built from the YAML at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from acd.core.errors import InvalidSpec
from acd.core.ids import AgentId, DeptId, QueueId
from acd.core.overflow import OverflowSpec

Skills = tuple[tuple[str, int], ...]
"""Skill names with levels, sorted by name: ``(("pediatrie", 2), ("anglais", 1))``."""


class Strategy(StrEnum):
    """How a queue chooses among the available agents of its best penalty tier."""

    LONGEST_IDLE = "longest-idle"
    ROUND_ROBIN = "round-robin"
    FEWEST_CALLS = "fewest-calls"
    LEAST_TALK_TIME = "least-talk-time"


@dataclass(frozen=True, slots=True, kw_only=True)
class PriorityClass:
    """A caller priority; ``head_start_s`` is the wait it is credited with on arrival.

    Priority ageing: a call's score is ``wait + head_start_s``, so every second of wait
    is worth the same in every class and a low-priority call always ends up first.
    """

    name: str
    head_start_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PenaltyStep:
    """From ``after_s`` of wait on, agents up to ``max_penalty`` may take the call."""

    after_s: float
    max_penalty: int


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSpec:
    """One queue of a department, with its strategy, timers and limits."""

    id: QueueId
    dept: DeptId
    strategy: Strategy = Strategy.LONGEST_IDLE
    ring_timeout_s: float = 20.0
    wrapup_s: float = 0.0
    max_length: int | None = None
    max_wait_s: float | None = None
    join_empty: bool = True
    """Accept a call when no agent of the queue is logged in (else: fallback)."""
    leave_empty: bool = False
    """Send the waiting calls to fallback when the queue's last agent logs out."""
    base_max_penalty: int = 0
    penalty_steps: tuple[PenaltyStep, ...] = ()
    required_skills: Skills = ()
    """Skills every call of this queue needs, merged with the call's own."""

    def max_penalty(self, wait_s: float) -> int:
        """The widest agent penalty a call that waited ``wait_s`` may be offered to."""
        allowed = self.base_max_penalty
        for step in self.penalty_steps:
            if wait_s >= step.after_s:
                allowed = max(allowed, step.max_penalty)
        return allowed

    def max_penalty_at(self, arrived_at: float, now: float) -> int:
        """:meth:`max_penalty` for a call that arrived at ``arrived_at``, seen at ``now``.

        Compares absolute times, as the penalty-step deadlines do: ``now - arrived_at``
        can fall a hair short of ``after_s`` at the very instant a step is due.
        """
        allowed = self.base_max_penalty
        for step in self.penalty_steps:
            if arrived_at + step.after_s <= now:
                allowed = max(allowed, step.max_penalty)
        return allowed

    def next_step_at(self, arrived_at: float, now: float) -> float | None:
        """When a call that arrived at ``arrived_at`` next reaches a penalty step after ``now``.

        Absolute times again: ``now - arrived_at < after_s`` can hold in floating point at
        the very instant a step fires, which would re-arm its deadline forever.
        """
        first: float | None = None
        for step in self.penalty_steps:
            at = arrived_at + step.after_s
            if at > now and (first is None or at < first):
                first = at
        return first


@dataclass(frozen=True, slots=True, kw_only=True)
class DepartmentSpec:
    """A département's SAMU: its queues, the first being where its calls go by default."""

    id: DeptId
    name: str
    queues: tuple[QueueId, ...]
    short_abandon_s: float = 5.0
    """Abandons quicker than this are counted apart (misdials, instant hang-ups)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Membership:
    """An agent serves a queue at a penalty: lower penalties are offered first."""

    queue: QueueId
    penalty: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSpec:
    """A call-taker (ARM): the phone to ring, the queues served, the skills held."""

    id: AgentId
    name: str
    endpoint: str
    """The dial string of the agent's phone, e.g. ``PJSIP/arm-7501``."""
    memberships: tuple[Membership, ...]
    skills: Skills = ()
    wrapup_s: float | None = None
    """Overrides the queue's wrap-up time when set."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSpec:
    """Everything the engine needs to decide; built once per configuration version."""

    departments: tuple[DepartmentSpec, ...]
    queues: tuple[QueueSpec, ...]
    agents: tuple[AgentSpec, ...]
    priorities: tuple[PriorityClass, ...] = (PriorityClass(name="normal", head_start_s=0.0),)
    default_priority: str = "normal"
    no_answer_pause: bool = True
    """Ring-no-answer pauses the agent with reason ``no-answer``."""
    no_answer_pause_s: float | None = None
    """Unpause automatically after this long; ``None`` waits for the agent or a supervisor."""
    busy_retry_s: float = 10.0
    """An agent whose phone answered busy is not offered a call again before this delay."""
    offer_guard_s: float = 5.0
    """Extra time after the ring timeout before an unconfirmed offer is checked with the PBX."""
    sl_short_s: float = 30.0
    sl_target_s: float = 60.0
    aht_prior_s: float = 120.0
    """Average handle time assumed before any call was handled (estimated wait)."""
    overflow: OverflowSpec = field(default_factory=OverflowSpec)
    version: str = "unversioned"
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def priority(self, name: str) -> PriorityClass | None:
        """The priority class of that name, or ``None``."""
        for p in self.priorities:
            if p.name == name:
                return p
        return None


def check_spec(spec: EngineSpec) -> None:
    """Raise :class:`InvalidSpec` naming every reference the spec does not resolve."""
    queues = {q.id for q in spec.queues}
    depts = {d.id for d in spec.departments}
    problems: list[str] = []
    for q in spec.queues:
        if q.dept not in depts:
            problems.append(f"queue {q.id} names unknown department {q.dept}")
    for d in spec.departments:
        if not d.queues:
            problems.append(f"department {d.id} has no queue")
        problems.extend(
            f"department {d.id} names unknown queue {q}" for q in d.queues if q not in queues
        )
    for a in spec.agents:
        problems.extend(
            f"agent {a.id} serves unknown queue {m.queue}"
            for m in a.memberships
            if m.queue not in queues
        )
    if spec.priority(spec.default_priority) is None:
        problems.append(f"default priority {spec.default_priority} is not a declared class")
    if len({a.id for a in spec.agents}) != len(spec.agents):
        problems.append("agent ids are not unique")
    if problems:
        raise InvalidSpec("; ".join(problems))
