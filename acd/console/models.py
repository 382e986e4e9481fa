"""The console API's bodies: pydantic models, the single source of the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(min_length=1, max_length=128)]
Reason = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[str, Field(max_length=500)]
CallbackStatus = Literal["to-call-back", "called-back", "reached", "not-reached"]
Level = Literal["ok", "amber", "red"]
RoleName = Literal["viewer", "supervisor", "admin"]


class Body(BaseModel):
    """Requests: unknown fields and loose types refused (``"on": "yes"`` is a 422, not true)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Out(BaseModel):
    """Responses."""

    model_config = ConfigDict(frozen=True)


# -- errors and identity ---------------------------------------------------------------------


class ErrorDetail(Out):
    slug: str = Field(description="Stable identifier of the refusal, e.g. `forbidden`.")
    message: str
    details: object | None = None


class ErrorBody(Out):
    error: ErrorDetail


class LoginRequest(Body):
    username: Name
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class Me(Out):
    user: str
    role: RoleName
    csrf: str = Field(description="Send it back as the X-CSRF-Token header on every change.")
    lang: Literal["fr", "en"]
    instance: str


# -- wallboard -------------------------------------------------------------------------------


class AgentCounts(Out):
    available: int
    offered: int = Field(description="Ringing or being offered a call.")
    on_call: int
    wrapup: int
    paused: int
    logged_in: int
    logged_out: int


class PartnerLoadOut(Out):
    partner: str
    name: str
    kind: Literal["department", "external"]
    waiting: int | None
    available_agents: int | None
    estimated_wait_s: float | None
    age_s: float | None = Field(description="Age of the reading; `null`: never read.")


class TodayOut(Out):
    since: float = Field(description="Local midnight (Europe/Paris), epoch seconds.")
    entered: int
    answered: int
    within_target: int
    abandoned: int = Field(description="Long abandons (short ones left out).")
    overflowed_out: int
    service_level: float | None = Field(description="within_target / (answered + abandoned).")


class Tile(Out):
    dept: str
    name: str
    waiting: int
    longest_wait_s: float
    level: Level = Field(description="Longest wait against the console's amber/red thresholds.")
    estimated_wait_s: float | None
    agents: AgentCounts
    answered: int = Field(description="Answered since the service started.")
    answered_within_target: int
    service_level: float | None = Field(description="Since the service started (0..1).")
    service_level_last_hour: float | None
    abandoned: int
    short_abandoned: int
    overflowed_out: int
    overflowed_in: int
    fallback: int
    today: TodayOut | None = Field(description="From the journal; `null` until first read.")
    crisis: bool
    active_rules: list[str]
    partners: list[PartnerLoadOut]


class InstanceOut(Out):
    name: str
    role: Literal["active", "standby", "fenced"]
    epoch: int
    leader: str | None


class Wallboard(Out):
    at: float
    instance: InstanceOut
    wait_amber_s: float
    wait_red_s: float
    target_s: float
    service_level_target: float
    tiles: list[Tile]


# -- department view -------------------------------------------------------------------------


class WaitingCall(Out):
    call: str
    position: int
    queue: str
    priority: str
    state: str
    wait_s: float
    caller: str = Field(description="Masked for viewers.")
    origin: str | None
    agent: str | None


class AgentOut(Out):
    agent: str
    name: str
    state: str
    since: float
    in_state_s: float
    pause_reason: str | None
    pending_pause: str | None
    pending_logout: bool
    call: str | None
    calls: int
    depts: list[str]


class DecisionOut(Out):
    at: float
    call: str | None
    action: str | None
    route: str | None
    agent: str | None
    target: str | None
    rule: str | None
    reason: str | None


class DepartmentView(Out):
    at: float
    tile: Tile
    calls: list[WaitingCall]
    agents: list[AgentOut]
    decisions: list[DecisionOut]
    decisions_error: str | None = Field(description="Why recent decisions are missing, if so.")


class AgentList(Out):
    at: float
    agents: list[AgentOut]


class PauseRequest(Body):
    reason: Reason


class Accepted(Out):
    ok: bool = True
    detail: str


# -- overflow --------------------------------------------------------------------------------


class RuleOut(Out):
    id: str
    dept: str
    partners: list[str]
    active: bool
    since: float | None
    when: str
    until: str | None


class OverflowView(Out):
    at: float
    version: str
    crisis: list[str]
    rules: list[RuleOut]
    partners: list[PartnerLoadOut]


class CrisisRequest(Body):
    on: bool


class OverflowOptionOut(Out):
    partner: str
    name: str
    kind: Literal["department", "external"]
    verdict: str
    verdict_text: str
    in_chain: bool
    waiting: int | None
    available_agents: int | None
    estimated_wait_s: float | None
    age_s: float | None


class OverflowOptions(Out):
    call: str
    dept: str
    options: list[OverflowOptionOut]


class ForceOverflowRequest(Body):
    partner: Name


# -- callbacks -------------------------------------------------------------------------------


class CallbackItem(Out):
    call: str = Field(description="The latest abandoned call of this number.")
    call_ids: list[str]
    dept: str | None
    caller: str | None = Field(description="Masked for viewers.")
    abandoned_at: float | None
    first_abandoned_at: float | None
    wait_s: float | None
    repeats: int
    status: CallbackStatus
    updated_at: float | None
    updated_by: str | None


class CallbackList(Out):
    items: list[CallbackItem]


class CallbackUpdate(Body):
    status: CallbackStatus
    note: Note = ""


# -- configuration, audit, system -------------------------------------------------------------


class ConfigOut(Out):
    version: str
    label: str
    path: str
    loaded_at: float
    last_reload: str
    last_errors: list[str]


class ReloadResult(Out):
    status: Literal["applied", "unchanged", "rejected"]
    version: str | None
    errors: list[str]


class AuditItem(Out):
    id: str
    at: float
    actor: str | None
    role: str | None
    action: str | None
    target: str | None
    details: str | None
    source: str | None


class AuditList(Out):
    items: list[AuditItem]


class LinkOut(Out):
    name: str
    connected: bool
    logged_in: bool
    reconnects: int
    bad_frames: int
    last_pong_age_s: float | None
    actions_in_flight: int


class StoreHealth(Out):
    ok: bool
    latency_ms: float | None
    detail: str


class JournalBacklog(Out):
    backlog: int
    oldest_age_s: float | None
    written: int
    spooled: int


class SystemView(Out):
    at: float
    instance: InstanceOut
    lease_age_s: float | None
    config_version: str
    links: list[LinkOut]
    hot_state: StoreHealth
    journal: StoreHealth
    outbox: JournalBacklog
    events: int
    rejected: int
    errors: int
    fenced_actions: int


class Health(Out):
    status: Literal["ok", "not-ready"]
    role: str
    checks: dict[str, bool]
