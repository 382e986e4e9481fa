"""Every route of the console's API, for every role: who is refused, with which slug, who succeeds.

The routes are read from the table the server mounts (``acd.console.api.routes``), so a new
route is checked as soon as it is declared; it needs an entry in ``VALID`` (a request it
accepts), and the test that compares the table with ``VALID`` fails until it has one.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from acd.console.api import routes
from acd.console.backend import Backend
from acd.console.roles import Role
from acd.console.routing import Route, RouteTable
from acd.console.security import Security
from acd.core.states import AgentState
from tests.e2e.console.harness import API, USERS, Client, Console, segment

pytestmark = pytest.mark.asyncio(loop_scope="module")

AGENT = "arm-9302"
"""The ARM the agent routes act on (the 93 takes no call in these tests)."""


def declared_routes() -> list[Route]:
    """The API's routes, declared as the server declares them (no service needed)."""
    table = RouteTable(security=cast(Security, None))
    routes(table, cast(Backend, None))
    return table.routes


ROUTES = {route.name: route for route in declared_routes()}


@dataclass
class Prepared:
    """What a setup adds to a route's request: path parameters, a body, its own browser."""

    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    client: Client | None = None


Setup = Callable[[Console, Role], AbstractAsyncContextManager[Prepared]]


@dataclass(frozen=True)
class Valid:
    """A request the route accepts; ``setup`` makes it so (a waiting call...) and undoes it."""

    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    setup: Setup | None = None


@contextlib.asynccontextmanager
async def _login(console: Console, role: Role) -> AsyncIterator[Prepared]:
    name, password = USERS[role]
    yield Prepared(body={"username": name, "password": password}, client=console.anonymous())


@contextlib.asynccontextmanager
async def _own_session(console: Console, role: Role) -> AsyncIterator[Prepared]:
    yield Prepared(client=await console.login_as(role))


def _agent(before: str | None) -> Setup:
    """Put the ARM in the state the action needs, and back to available after it."""

    @contextlib.asynccontextmanager
    async def setup(console: Console, role: Role) -> AsyncIterator[Prepared]:
        if before is not None:
            await console.admin.ok("POST", f"{API}/agents/{AGENT}/{before}", _pause_body(before))
        try:
            yield Prepared()
        finally:
            await console.admin.ok("POST", f"{API}/agents/{AGENT}/login")
            await console.admin.ok("POST", f"{API}/agents/{AGENT}/unpause")
            assert console.agent_state(AGENT) is AgentState.AVAILABLE

    return setup


def _pause_body(action: str) -> dict[str, str] | None:
    return {"reason": "formation"} if action == "pause" else None


@contextlib.asynccontextmanager
async def _waiting_call(console: Console, role: Role) -> AsyncIterator[Prepared]:
    async with console.held("75"):
        _, call = await console.place_caller("75", "0612345678")
        yield Prepared(params={"call": call})


@contextlib.asynccontextmanager
async def _abandoned_call(console: Console, role: Role) -> AsyncIterator[Prepared]:
    yield Prepared(params={"call": await console.abandoned_call()})


VALID: dict[str, Valid] = {
    "login": Valid(setup=_login),
    "logout": Valid(setup=_own_session),
    "me": Valid(),
    "wallboard": Valid(),
    "department": Valid(params={"dept": "75"}),
    "agents": Valid(),
    "agent_login": Valid(setup=_agent("logout")),
    "agent_logout": Valid(setup=_agent(None)),
    "agent_pause": Valid(body={"reason": "formation"}, setup=_agent(None)),
    "agent_unpause": Valid(setup=_agent("pause")),
    "overflow": Valid(),
    "set_crisis": Valid(params={"dept": "93"}, body={"on": False}),
    "overflow_options": Valid(setup=_waiting_call),
    "force_overflow": Valid(body={"partner": "92"}, setup=_waiting_call),
    "callbacks": Valid(),
    "set_callback_status": Valid(body={"status": "to-call-back"}, setup=_abandoned_call),
    "config": Valid(),
    "reload_config": Valid(),
    "audit": Valid(),
    "system": Valid(),
}

PLACEHOLDERS = {"dept": "75", "agent": AGENT, "call": "pbx1/1700000000.1"}
"""Path parameters of requests refused before the handler looks at them."""

GUARDED = [r.name for r in ROUTES.values() if not r.public]
CHANGES = [r.name for r in ROUTES.values() if r.changes and not r.public]
BELOW = [(r.name, role) for r in ROUTES.values() for role in Role if not role.allows(r.role)]
ALLOWED = [(r.name, role) for r in ROUTES.values() for role in Role if role.allows(r.role)]


def _path(route: Route, params: dict[str, str]) -> str:
    valid = VALID.get(route.name, Valid())
    values = {**PLACEHOLDERS, **valid.params, **params}
    return API + route.path.format(**{k: segment(v) for k, v in values.items()})


def _body(route: Route, body: Any = None) -> Any:
    if route.body is None:
        return None
    return body if body is not None else VALID[route.name].body


async def _send(client: Client, route: Route, **kw: Any) -> Any:
    body = _body(route)
    if body is None:
        return await client.send(route.method, _path(route, {}), **kw)
    return await client.send(route.method, _path(route, {}), json_body=body, **kw)


async def test_every_route_of_the_running_console_has_a_valid_request(console: Console) -> None:
    """The live route table is the declared one, and each of its routes has a valid request."""
    assert console.service.console is not None
    live = console.service.console.table.routes
    assert [(r.method, r.path, r.name, r.role) for r in live] == [
        (r.method, r.path, r.name, r.role) for r in ROUTES.values()
    ]
    missing = sorted({r.name for r in live} - set(VALID))
    assert not missing, f"routes without a valid request in VALID: {missing}"
    assert not set(VALID) - {r.name for r in live}, "VALID names routes that do not exist"


@pytest.mark.parametrize("name", GUARDED)
async def test_a_request_without_a_session_is_refused_as_not_authenticated(
    console: Console, name: str
) -> None:
    """Nobody logged in: 401 ``not-authenticated``, whatever the route."""
    answer = await _send(console.anonymous(), ROUTES[name])
    assert (answer.status, answer.slug) == (401, "not-authenticated"), answer


@pytest.mark.parametrize(("name", "role"), BELOW, ids=[f"{n}-{r}" for n, r in BELOW])
async def test_a_role_below_the_route_is_refused_as_forbidden(
    console: Console, name: str, role: Role
) -> None:
    """A viewer cannot pause an agent, a supervisor cannot reload: 403 ``forbidden``."""
    answer = await _send(console.clients[role], ROUTES[name])
    assert (answer.status, answer.slug) == (403, "forbidden"), answer


@pytest.mark.parametrize(("name", "role"), ALLOWED, ids=[f"{n}-{r}" for n, r in ALLOWED])
async def test_the_route_role_and_above_succeed_with_a_valid_request(
    console: Console, name: str, role: Role
) -> None:
    """The route's role and every role above it get the route's success status."""
    route = ROUTES[name]
    valid = VALID[name]
    setup = valid.setup or _nothing
    async with setup(console, role) as prepared:
        client = prepared.client or console.clients[role]
        path = _path(route, prepared.params)
        body = _body(route, prepared.body)
        if body is None:
            answer = await client.send(route.method, path)
        else:
            answer = await client.send(route.method, path, json_body=body)
        assert answer.status == route.status, answer
        if route.response is not None:
            route.response.model_validate(answer.body)


@contextlib.asynccontextmanager
async def _nothing(console: Console, role: Role) -> AsyncIterator[Prepared]:
    yield Prepared()


@pytest.mark.parametrize("token", ["missing", "wrong"])
@pytest.mark.parametrize("name", CHANGES)
async def test_a_change_without_the_session_csrf_token_is_refused(
    console: Console, name: str, token: str
) -> None:
    """A change without the X-CSRF-Token header, or with another one: 403 ``csrf-failed``."""
    headers = {"X-CSRF-Token": "not-the-session-token"} if token == "wrong" else None
    answer = await _send(console.admin, ROUTES[name], csrf=False, headers=headers)
    assert (answer.status, answer.slug) == (403, "csrf-failed"), answer


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://intranet.example"}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["foreign-origin", "cross-site-fetch"],
)
@pytest.mark.parametrize("name", CHANGES)
async def test_a_change_from_another_site_is_refused(
    console: Console, name: str, headers: dict[str, str]
) -> None:
    """A change with a foreign Origin (CSRF token or not): 403 ``origin-refused``."""
    answer = await _send(console.admin, ROUTES[name], headers=headers)
    assert (answer.status, answer.slug) == (403, "origin-refused"), answer
