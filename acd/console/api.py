"""The JSON API under ``/api/v1``: one handler per operation, declared with its role."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from acd.console import views
from acd.console.backend import CORE_SLUGS, Backend
from acd.console.errors import ApiError
from acd.console.models import (
    Accepted,
    AgentList,
    AuditList,
    CallbackList,
    CallbackStatus,
    CallbackUpdate,
    ConfigOut,
    CrisisRequest,
    DepartmentView,
    ForceOverflowRequest,
    LoginRequest,
    Me,
    OverflowOptionOut,
    OverflowOptions,
    OverflowView,
    PauseRequest,
    ReloadResult,
    SystemView,
    Wallboard,
)
from acd.console.roles import Role
from acd.console.routing import Call, Route, RouteTable
from acd.console.security import Security
from acd.core import events as ev
from acd.core.errors import CoreError
from acd.core.ids import AgentId, CallId

Short = Annotated[str, Field(min_length=1, max_length=128)]


class Query(BaseModel):
    """Query strings: unknown parameters refused like unknown body fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DeptQuery(Query):
    dept: Short | None = None


class CallbackQuery(Query):
    dept: Short | None = None
    status: CallbackStatus | None = None


class AuditQuery(Query):
    actor: Short | None = None
    action: Short | None = None
    target: Short | None = None
    since: Annotated[float, Field(ge=0, le=1e11)] | None = None
    until: Annotated[float, Field(ge=0, le=1e11)] | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 200


AgentAction = Literal["login", "logout", "pause", "unpause"]


class Api:
    """The operations' handlers over one backend (they share one signature: ``(call)``)."""

    def __init__(self, backend: Backend, security: Security) -> None:
        self.b = backend
        self.security = security

    async def login(self, c: Call) -> Me:
        body: LoginRequest = c.body
        session = await self.security.login(c.request, body.username, body.password)
        c.after.append(lambda response: self.security.set_cookie(c.request, response, session))
        return Me(
            user=session.user,
            role=session.role.value,
            csrf=session.csrf,
            lang=self.b.config.lang,
            instance=self.b.instance().name,
        )

    async def logout(self, c: Call) -> None:
        self.security.logout(c.who)
        c.after.append(self.security.clear_cookie)

    async def me(self, c: Call) -> Me:
        who = c.who
        if who.session is None:  # proxy mode: a session to hold the CSRF token
            who = self.security.ensure_session(who)
            new = who.session
            assert new is not None
            c.after.append(lambda response: self.security.set_cookie(c.request, response, new))
        return Me(
            user=who.user,
            role=who.role.value,
            csrf=who.csrf,
            lang=self.b.config.lang,
            instance=self.b.instance().name,
        )

    async def wallboard(self, c: Call) -> Wallboard:
        return self.b.wallboard()

    async def department(self, c: Call) -> DepartmentView:
        return await self.b.department(c.params["dept"], c.who)

    async def agents(self, c: Call) -> AgentList:
        q: DeptQuery = c.query
        if q.dept is not None:
            self.b.dept(q.dept)
        now = self.b.clock()
        return AgentList(
            at=now, agents=views.agents(self.b.engine, now, self.b.agent_depts(), q.dept)
        )

    async def agent_action(self, c: Call) -> Accepted:
        agent, action = c.params["agent"], c.request.path.rsplit("/", 1)[-1]
        if agent not in self.b.engine.agents:
            raise ApiError("unknown-agent", f"no agent {agent!r} here")
        aid = AgentId(agent)
        details: dict[str, object] = {}
        event: ev.Event
        if action == "login":
            event = ev.AgentLoggedIn(agent=aid)
        elif action == "logout":
            event = ev.AgentLoggedOut(agent=aid)
        elif action == "pause":
            details["reason"] = c.body.reason
            event = ev.AgentPaused(agent=aid, reason=c.body.reason)
        else:
            event = ev.AgentUnpaused(agent=aid)
        self.b.act(c.who, event, f"agent-{action}", agent, details)
        state = self.b.engine.agent(aid)
        pending = " (when the call ends)" if state.pending_pause or state.pending_logout else ""
        return Accepted(detail=f"{agent}: {state.state.value}{pending}")

    async def overflow(self, c: Call) -> OverflowView:
        now = self.b.clock()
        e = self.b.engine
        ids = list(e.depts) + [p for p in e.externals if p not in e.depts]
        return OverflowView(
            at=now,
            version=self.b.service.reloader.current.label,
            crisis=sorted(e.crisis),
            rules=views.rules(e),
            partners=views.partner_loads(e, ids, now),
        )

    async def crisis(self, c: Call) -> Accepted:
        dept = self.b.dept(c.params["dept"])
        on: bool = c.body.on
        self.b.act(
            c.who,
            ev.CrisisModeSet(dept=dept, on=on, by=c.who.user),
            "crisis-on" if on else "crisis-off",
            dept,
            {},
        )
        return Accepted(detail=f"crisis mode {'on' if on else 'off'} for {dept}")

    def _waiting_call(self, c: Call) -> CallId:
        cid = c.params["call"]
        view = self.b.engine.call(CallId(cid))
        if view is None:
            raise ApiError("unknown-call", f"no live call {cid!r}")
        return CallId(cid)

    async def options(self, c: Call) -> OverflowOptions:
        cid = self._waiting_call(c)
        view = self.b.engine.call(cid)
        assert view is not None
        try:
            found = self.b.engine.overflow_options(cid, self.b.clock())
        except CoreError as err:
            raise ApiError(CORE_SLUGS.get(err.slug, "illegal-transition"), str(err)) from None
        return OverflowOptions(
            call=cid,
            dept=view.dept,
            options=[
                OverflowOptionOut(
                    partner=o.partner,
                    name=o.name,
                    kind=o.kind,
                    verdict=o.verdict,
                    verdict_text=o.text,
                    in_chain=o.in_chain,
                    waiting=o.waiting,
                    available_agents=o.available_agents,
                    estimated_wait_s=o.estimated_wait_s,
                    age_s=o.load_age_s,
                )
                for o in found
            ],
        )

    async def force(self, c: Call) -> Accepted:
        cid = self._waiting_call(c)
        partner: str = c.body.partner
        self.b.act(
            c.who,
            ev.OverflowForced(call=cid, partner=partner, by=c.who.user),
            "overflow-forced",
            cid,
            {"partner": partner},
        )
        return Accepted(detail=f"call {cid} sent to {partner}")

    async def callbacks(self, c: Call) -> CallbackList:
        q: CallbackQuery = c.query
        return CallbackList(items=await self.b.callbacks(c.who, q.dept, q.status))

    async def callback_status(self, c: Call) -> Accepted:
        cid = c.params["call"]
        body: CallbackUpdate = c.body
        items = await self.b.callbacks(c.who, None, None)
        item = next((i for i in items if cid in i.call_ids), None)
        if item is None:
            raise ApiError("unknown-callback", f"no abandoned call {cid!r} in the worklist")
        written = await self.b.set_callback(c.who, item.call_ids, body.status, body.note)
        later = "" if written else " (journal busy: shown when it has taken it)"
        return Accepted(detail=f"{len(item.call_ids)} call(s): {body.status}{later}")

    async def config(self, c: Call) -> ConfigOut:
        return self.b.config_out()

    async def reload(self, c: Call) -> ReloadResult:
        result = self.b.reload(c.who)
        if result.status == "rejected":
            raise ApiError(
                "config-rejected",
                "the configuration was rejected; the running one stays",
                details=result.errors,
            )
        return result

    async def audit(self, c: Call) -> AuditList:
        q: AuditQuery = c.query
        items = await self.b.audit_items(
            actor=q.actor,
            action=q.action,
            target=q.target,
            since_s=q.since,
            until_s=q.until,
            limit=q.limit,
        )
        return AuditList(items=items)

    async def system(self, c: Call) -> SystemView:
        return await self.b.system()


def _agent_route(api: Api, action: str, summary: str, body: type[PauseRequest] | None) -> Route:
    return Route(
        method="POST",
        path=f"/agents/{{agent}}/{action}",
        name=f"agent_{action}",
        summary=summary,
        role=Role.SUPERVISOR,
        handler=api.agent_action,
        body=body,
        response=Accepted,
        errors=("unknown-agent", "illegal-transition", "not-active"),
    )


def routes(table: RouteTable, backend: Backend) -> None:
    """Declare every operation of the API on ``table``."""
    api = Api(backend, table.security)
    viewer, supervisor, admin = Role.VIEWER, Role.SUPERVISOR, Role.ADMIN
    for route in (
        Route(
            method="POST",
            path="/login",
            name="login",
            summary="Log in.",
            role=viewer,
            handler=api.login,
            body=LoginRequest,
            response=Me,
            public=True,
            errors=("bad-credentials", "too-many-attempts", "forbidden"),
        ),
        Route(
            method="POST",
            path="/logout",
            name="logout",
            summary="Log out.",
            role=viewer,
            handler=api.logout,
            status=204,
        ),
        Route(
            method="GET",
            path="/me",
            name="me",
            summary="Who I am, my CSRF token.",
            role=viewer,
            handler=api.me,
            response=Me,
        ),
        Route(
            method="GET",
            path="/wallboard",
            name="wallboard",
            role=viewer,
            handler=api.wallboard,
            summary="Every department's tile.",
            response=Wallboard,
        ),
        Route(
            method="GET",
            path="/departments/{dept}",
            name="department",
            role=viewer,
            summary="A department: waiting calls, agents, recent decisions.",
            handler=api.department,
            response=DepartmentView,
            errors=("unknown-department",),
        ),
        Route(
            method="GET",
            path="/agents",
            name="agents",
            summary="Agents and their states.",
            role=viewer,
            handler=api.agents,
            query=DeptQuery,
            response=AgentList,
            errors=("unknown-department",),
        ),
        _agent_route(api, "login", "Log an agent in.", None),
        _agent_route(api, "logout", "Log an agent out (after the call).", None),
        _agent_route(api, "pause", "Pause an agent with a reason.", PauseRequest),
        _agent_route(api, "unpause", "Make a paused agent available.", None),
        Route(
            method="GET",
            path="/overflow",
            name="overflow",
            role=viewer,
            handler=api.overflow,
            summary="Overflow rules in force, crisis modes, partner loads.",
            response=OverflowView,
        ),
        Route(
            method="PUT",
            path="/departments/{dept}/crisis",
            name="set_crisis",
            role=supervisor,
            summary="Set a department's crisis mode on or off.",
            handler=api.crisis,
            body=CrisisRequest,
            response=Accepted,
            errors=("unknown-department", "not-active"),
        ),
        Route(
            method="GET",
            path="/calls/{call}/overflow-options",
            name="overflow_options",
            summary="Where a waiting call could be sent, with the look-ahead's verdict.",
            role=supervisor,
            handler=api.options,
            response=OverflowOptions,
            errors=("unknown-call", "call-not-waiting"),
        ),
        Route(
            method="POST",
            path="/calls/{call}/overflow",
            name="force_overflow",
            role=supervisor,
            summary="Send a waiting call to a chosen partner now.",
            handler=api.force,
            body=ForceOverflowRequest,
            response=Accepted,
            errors=("unknown-call", "call-not-waiting", "unknown-partner", "not-active"),
        ),
        Route(
            method="GET",
            path="/callbacks",
            name="callbacks",
            role=viewer,
            handler=api.callbacks,
            query=CallbackQuery,
            response=CallbackList,
            summary="Abandoned calls to call back, repeat callers merged.",
            errors=("unknown-department", "journal-unavailable"),
        ),
        Route(
            method="PUT",
            path="/callbacks/{call}/status",
            name="set_callback_status",
            summary="Set the callback status of an abandoned call (and its repeats).",
            role=supervisor,
            handler=api.callback_status,
            body=CallbackUpdate,
            response=Accepted,
            errors=("unknown-callback", "journal-unavailable"),
        ),
        Route(
            method="GET",
            path="/config",
            name="config",
            role=viewer,
            handler=api.config,
            summary="The configuration version in force.",
            response=ConfigOut,
        ),
        Route(
            method="POST",
            path="/config/reload",
            name="reload_config",
            role=admin,
            summary="Reload the configuration file (rejected whole if invalid).",
            handler=api.reload,
            response=ReloadResult,
            errors=("config-rejected",),
        ),
        Route(
            method="GET",
            path="/audit",
            name="audit",
            role=supervisor,
            handler=api.audit,
            query=AuditQuery,
            summary="Who did what, when.",
            response=AuditList,
            errors=("journal-unavailable",),
        ),
        Route(
            method="GET",
            path="/system",
            name="system",
            role=viewer,
            handler=api.system,
            summary="Role, epoch, PBX links, Redis and SQL health, journal backlog.",
            response=SystemView,
        ),
    ):
        table.add(route)
