"""What the engine decides: PBX actions and state records, each with the reason behind it."""

from __future__ import annotations

from acd.core.ids import AgentId, CallId, DeptId, QueueId, RouteId
from acd.core.message import builder, message
from acd.core.states import AgentState, CallState

Value = str | int | float | bool | None


@message
class Reason:
    """Why a decision was taken: the rule or strategy, and the values it saw."""

    rule: str
    values: tuple[tuple[str, Value], ...] = ()

    def get(self, key: str) -> Value:
        """The value seen under ``key`` (``None`` when absent)."""
        for k, v in self.values:
            if k == key:
                return v
        return None

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.values)
        return f"{self.rule} ({shown})" if shown else self.rule


@message
class OfferCall:
    """Connect the caller to the agent's phone (Setvar + Redirect to the dispatch context)."""

    call: CallId
    route: RouteId
    agent: AgentId
    endpoint: str
    ring_timeout_s: float
    reason: Reason


@message
class SendToFallback:
    """Hand the caller to the dialplan's static fallback; the middleware stops routing it."""

    call: CallId
    route: RouteId
    reason: Reason


@message
class OverflowCall:
    """Send the caller to an external partner SAMU (Setvar + Redirect to the overflow context)."""

    call: CallId
    route: RouteId
    partner: str
    number: str
    trunk: str
    reason: Reason


@message
class MoveCall:
    """The call now belongs to another department of the platform (internal entraide).

    The PBX relabels the channel (``ACD_DEPT``) so that its fail-open fallback and any
    later resync place the caller where the engine put it.
    """

    call: CallId
    dept: DeptId
    reason: Reason


@message
class OverflowHeld:
    """An active rule found no partner able to take calls now: the calls stay, and why."""

    dept: DeptId
    rule: str
    waiting: int
    reason: Reason


@message
class RuleChanged:
    """An overflow rule became active or inactive (hysteresis and cooldown applied)."""

    dept: DeptId
    rule: str
    active: bool
    at: float
    reason: Reason


@message
class VerifyRoute:
    """An offer went unconfirmed past its deadline: ask the PBX, never resend blindly."""

    call: CallId
    route: RouteId
    reason: Reason
    overflow: bool = False
    """The route is an overflow to an external partner, not an offer to an agent."""


@message
class CallRecord:
    """A call changed state: for the journal, the hot state and the console."""

    call: CallId
    dept: DeptId
    queue: QueueId
    state: CallState
    previous: CallState | None
    at: float
    agent: AgentId | None
    reason: Reason


@message
class AgentRecord:
    """An agent changed state: for the journal, the hot state and the console."""

    agent: AgentId
    state: AgentState
    previous: AgentState
    at: float
    pause_reason: str | None
    reason: Reason


Command = (
    OfferCall
    | MoveCall
    | SendToFallback
    | VerifyRoute
    | OverflowCall
    | OverflowHeld
    | RuleChanged
    | CallRecord
    | AgentRecord
)

# The engine builds a reason, a record or two and often an offer for every event: on its
# hot path it calls these keyword functions rather than the classes (same signature, same
# frozen instances, about half the cost; see :func:`acd.core.message.builder`).
build_reason = builder(Reason)
build_call_record = builder(CallRecord)
build_agent_record = builder(AgentRecord)
build_offer = builder(OfferCall)
