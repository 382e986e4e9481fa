"""Live records of calls and agents, mutated only by the engine through its transition tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from acd.core.ids import AgentId, CallId, DeptId, QueueId, RouteId
from acd.core.message import builder
from acd.core.spec import AgentSpec, Skills
from acd.core.states import AgentState, CallState

if TYPE_CHECKING:
    from acd.core.routing import AgentPool


@dataclass(slots=True, kw_only=True)
class Call:
    """One caller known to the engine, from arrival to its terminal state."""

    id: CallId
    dept: DeptId
    queue: QueueId
    priority: str
    head_start_s: float
    skills: Skills
    """The call's own skills merged with its queue's required skills."""
    own_skills: Skills
    arrived_at: float
    seq: int
    """Arrival order on this engine: breaks ties between equal keys."""
    caller: str = ""
    origin: DeptId | None = None
    path: tuple[DeptId, ...] = ()
    """Departments this call has been queued in, its first one included (entraide hops)."""
    partner: str | None = None
    """The external partner an overflowing call is being sent to."""
    state: CallState = CallState.WAITING
    token: int = 0
    """Bumped at every state change: invalidates deadlines and queue entries of the past."""
    route: RouteId | None = None
    agent: AgentId | None = None
    confirmed: bool = False
    offered_at: float | None = None
    answered_at: float | None = None
    attempts: int = 0

    @property
    def key(self) -> float:
        """Queue order, lowest first: arrival time minus the priority's head start.

        A call's score ``wait + head_start`` equals ``now - key``: ordering by key is
        ordering by score, and it never changes while the call waits.
        """
        return self.arrived_at - self.head_start_s


build_call = builder(Call)
"""Build a :class:`Call` (same keywords), without the keyword-dict cost of a class call."""


@dataclass(slots=True, kw_only=True)
class Agent:
    """One call-taker's live state and the counters the strategies read."""

    spec: AgentSpec
    id: AgentId
    order: int
    """Position in the configuration: the last tie-breaker of every strategy."""
    penalties: dict[QueueId, int] = field(default_factory=dict)
    tallies: list[dict[AgentState, int]] = field(default_factory=list)
    """The agents-by-state counts this agent is counted in (its queues and departments)."""
    pools: list[AgentPool] = field(default_factory=list, repr=False, compare=False)
    """The agent pools this agent belongs to (its queues, its skills), as they are built."""
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0
    token: int = 0
    """Bumped at every state change: invalidates deadlines of the past."""
    version: int = 0
    """Bumped whenever routability may change: invalidates pool entries of the past."""
    idle_since: float = 0.0
    calls: int = 0
    talk_s: float = 0.0
    last_offer_seq: int = -1
    pause_reason: str | None = None
    pending_pause: str | None = None
    pending_logout: bool = False
    device_busy: bool = False
    """The PBX reports the phone in use elsewhere."""
    backoff: bool = False
    """The phone answered busy or unreachable: not offered again until ``backoff_until``."""
    backoff_until: float = 0.0
    call: CallId | None = None

    @property
    def routable(self) -> bool:
        """Whether a call may be offered to this agent now."""
        return self.state is AgentState.AVAILABLE and not self.device_busy and not self.backoff


def satisfies(held: Skills, required: Skills) -> bool:
    """Whether skills ``held`` meet every ``required`` skill at its level or above."""
    if not required:
        return True
    levels = dict(held)
    return all(levels.get(name, -1) >= level for name, level in required)


def merge_skills(a: Skills, b: Skills) -> Skills:
    """The union of two skill requirements, keeping the higher level of a shared skill."""
    if not a:
        return b
    if not b:
        return a
    merged = dict(a)
    for name, level in b:
        merged[name] = max(level, merged.get(name, level))
    return tuple(sorted(merged.items()))


@dataclass(frozen=True, slots=True, kw_only=True)
class CallView:
    """A read-only picture of a call, for the console, the journal and the tests."""

    id: CallId
    dept: DeptId
    queue: QueueId
    priority: str
    state: CallState
    arrived_at: float
    caller: str
    origin: DeptId | None
    route: RouteId | None
    agent: AgentId | None
    attempts: int
    path: tuple[DeptId, ...] = ()
    """Departments this call has been queued in, its first one included."""

    @staticmethod
    def of(call: Call) -> CallView:
        """Freeze a live call record."""
        return CallView(
            id=call.id,
            dept=call.dept,
            queue=call.queue,
            priority=call.priority,
            state=call.state,
            arrived_at=call.arrived_at,
            caller=call.caller,
            origin=call.origin,
            route=call.route,
            agent=call.agent,
            attempts=call.attempts,
            path=call.path,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentView:
    """A read-only picture of an agent."""

    id: AgentId
    name: str
    state: AgentState
    since: float
    pause_reason: str | None
    pending_pause: str | None
    pending_logout: bool
    call: CallId | None
    calls: int
    talk_s: float
    device_busy: bool
    backoff: bool

    @staticmethod
    def of(agent: Agent) -> AgentView:
        """Freeze a live agent record."""
        return AgentView(
            id=agent.id,
            name=agent.spec.name,
            state=agent.state,
            since=agent.since,
            pause_reason=agent.pause_reason,
            pending_pause=agent.pending_pause,
            pending_logout=agent.pending_logout,
            call=agent.call,
            calls=agent.calls,
            talk_s=agent.talk_s,
            device_busy=agent.device_busy,
            backoff=agent.backoff,
        )
