"""What the engine is told: PBX facts, agent and supervisor actions, and the passing of time."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from acd.core.ids import AgentId, CallId, DeptId, QueueId, RouteId
from acd.core.spec import Skills


class RouteFailure(StrEnum):
    """Why a dispatched call did not reach the agent (Asterisk's DIALSTATUS, normalised)."""

    NO_ANSWER = "no-answer"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    CONGESTION = "congestion"
    REFUSED = "refused"
    """The PBX refused the redirect itself (e.g. the channel was not up)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallArrived:
    """A caller entered the waiting loop of a department (``ACDWaiting``)."""

    call: CallId
    dept: DeptId
    queue: QueueId | None = None
    """``None``: the department's first queue."""
    priority: str | None = None
    """``None``: the configuration's default priority class."""
    skills: Skills = ()
    enqueued_at: float | None = None
    """When the PBX queued the caller (``ACD_ENQ_TS``); ``None``: now. Kept on adoption."""
    caller: str = ""
    origin: DeptId | None = None
    """The department that overflowed this call here, if it is entraide."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteConfirmed:
    """The dispatch context took the call and is ringing the agent (``ACDRouted``)."""

    call: CallId
    route: RouteId


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered:
    """The agent picked up: caller and agent are talking."""

    call: CallId
    route: RouteId


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteFailed:
    """The route did not reach the agent; the caller is back in the waiting loop."""

    call: CallId
    route: RouteId
    cause: RouteFailure


@dataclass(frozen=True, slots=True, kw_only=True)
class CallHungUp:
    """The caller's channel is gone; what it means depends on the call's state."""

    call: CallId


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFellBack:
    """The dialplan's own fallback took the call (``ACDFallback``): stop routing it."""

    call: CallId


@dataclass(frozen=True, slots=True, kw_only=True)
class OverflowConfirmed:
    """A partner took the overflowed call."""

    call: CallId
    route: RouteId


@dataclass(frozen=True, slots=True, kw_only=True)
class OverflowFailed:
    """The partner refused or could not be reached; the call returns to its place."""

    call: CallId
    route: RouteId
    cause: RouteFailure


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedIn:
    """An agent starts serving their queues."""

    agent: AgentId


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedOut:
    """An agent stops serving; on a call, it takes effect when the call ends."""

    agent: AgentId


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentPaused:
    """An agent (or a supervisor) pauses; on a call, it takes effect when the call ends."""

    agent: AgentId
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentUnpaused:
    """A paused agent becomes available again."""

    agent: AgentId


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentDeviceChanged:
    """The PBX reports the agent's phone busy (in use elsewhere) or free."""

    agent: AgentId
    busy: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerLoadReported:
    """A partner SAMU published its load (look-ahead); ``at`` is when it was measured."""

    partner: str
    waiting: int
    available_agents: int
    estimated_wait_s: float | None
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CrisisModeSet:
    """A supervisor switches a department's crisis mode on or off."""

    dept: DeptId
    on: bool
    by: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OverflowForced:
    """A supervisor sends a waiting call to a partner of their choice, look-ahead or not."""

    call: CallId
    partner: str
    """A department of this platform (not the call's own) or an external partner's id."""
    by: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """Time passed: the runtime sends it at (or after) ``engine.next_deadline()``."""


Event = (
    CallArrived
    | RouteConfirmed
    | CallAnswered
    | RouteFailed
    | CallHungUp
    | CallFellBack
    | OverflowConfirmed
    | OverflowFailed
    | AgentLoggedIn
    | AgentLoggedOut
    | AgentPaused
    | AgentUnpaused
    | AgentDeviceChanged
    | PartnerLoadReported
    | CrisisModeSet
    | OverflowForced
    | Tick
)
