"""A running service with its console, the fake Asterisk behind it, and HTTP clients per role.

The service is wired and run as ``acd demo`` does (``build_service`` then ``run_service``)
against a fake Asterisk on a free loopback port; the console listens on a free port. Each
client is its own browser: its own cookie jar, its own CSRF token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import argon2
import pytest
import yarl

from acd.bootstrap import PbxTarget, build_service, run_service
from acd.console.roles import Role
from acd.console.security import CSRF_HEADER
from acd.console.users import UsersFile
from acd.core.ids import AgentId
from acd.core.states import AgentState
from acd.lifecycle import Service
from connectors.asterisk.fake import Dist, FakeAsterisk, FakeConfig

T = TypeVar("T")

API = "/api/v1"

FAKE = FakeConfig(
    scale=0.05,  # the fake's delays (ring, talk, media) run 20 times faster
    auth_fail_delay_s=0.05,
    ring_delay=Dist.fixed(1.0),
    talk=Dist.fixed(2.0),
    partner_answer_delay=Dist.fixed(1.0),
    fallback_answer_delay=Dist.fixed(2.0),
    hangup_linger_s=0.02,
    seed=15,
)

AGENTS: dict[str, tuple[str, ...]] = {
    "75": ("arm-7501", "arm-7502"),
    "92": ("arm-9201", "arm-9202"),
    "93": ("arm-9301", "arm-9302"),
}
"""Each department's ARM (they serve their own department only)."""

USERS: dict[Role, tuple[str, str]] = {
    Role.VIEWER: ("viewer", "viewer-password-15"),
    Role.SUPERVISOR: ("supervisor", "supervisor-password-15"),
    Role.ADMIN: ("admin", "admin-password-15"),
}
"""One console user per role: (name, password)."""

SPARE = ("night-viewer", "night-viewer-password")
"""A viewer nobody logs in as, except the test that locks them out."""

CHEAP = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""The tests check behaviour, not hashing strength."""

CRISIS_RULE = "93-crise"
LOGIN_MAX_FAILURES = 3
CONFIG = """\
instance: {{name: console-e2e}}
pbx:
  - {{name: pbx1, host: 127.0.0.1, username: acd15, secret: {{env: ACD_NOT_READ}}}}
redis: {{url: "memory://"}}
journal: {{url: "sqlite:///{tmp}/journal.db", spool: "{tmp}/journal.spool"}}
console:
  port: 0
  auth:
    users_file: "{tmp}/users.yaml"
    login_max_failures: {max_failures}
departments:
  - {{id: "75", name: SAMU de Paris, queues: [{{id: 75-general}}]}}
  - {{id: "92", name: SAMU des Hauts-de-Seine, queues: [{{id: 92-general}}]}}
  - {{id: "93", name: SAMU de la Seine-Saint-Denis, queues: [{{id: 93-general}}]}}
agents:
{agents}
overflow:
  evaluate_every_s: 0.2
  partners:
    - id: samu-60
      name: SAMU de l'Oise
      number: "0300000060"
      trunk: PJSIP/trunk
      accept_blind: true
  rules:
    "93":
      - id: {crisis_rule}
        when: {{crisis: true}}
        partners: ["92", samu-60]
        min_wait_s: 10
"""


def write_config(tmp: Path) -> Path:
    """Three SAMU with two ARM each, a crisis rule for the 93 and one external partner."""
    agents = "\n".join(
        f"  - {{id: {agent}, name: ARM {agent[4:]}, endpoint: PJSIP/{agent}, "
        f'serves: [{{dept: "{dept}"}}]}}'
        for dept, ids in AGENTS.items()
        for agent in ids
    )
    text = CONFIG.format(
        tmp=tmp, agents=agents, crisis_rule=CRISIS_RULE, max_failures=LOGIN_MAX_FAILURES
    )
    path = tmp / "acd.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def write_users(tmp: Path) -> Path:
    """The users file: one user per role, and the spare viewer."""
    path = tmp / "users.yaml"
    users = UsersFile(path, hasher=CHEAP)
    for role, (name, password) in USERS.items():
        users.add(name, role, password)
    users.add(SPARE[0], Role.VIEWER, SPARE[1])
    return path


def segment(value: str) -> str:
    """A path parameter as it goes in a URL (call ids hold a slash: ``pbx1/1700000000.3``)."""
    return quote(value, safe="")


async def until(
    check: Callable[[], bool], timeout_s: float = 5.0, what: str | Callable[[], str] = ""
) -> None:
    """Wait until ``check()`` holds; fail the test after ``timeout_s``, saying ``what``."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            told = what() if callable(what) else what
            pytest.fail(f"not reached within {timeout_s} s: {told or check}")
        await asyncio.sleep(0.01)


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout_s: float = 2.0, what: str = ""
) -> T:
    """Poll ``probe`` until it gives something; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"not seen within {timeout_s} s: {what}")
        await asyncio.sleep(0.05)


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer, read whole."""

    status: int
    headers: Mapping[str, str]
    body: Any
    """The JSON document, or the text when the answer is not JSON."""

    @property
    def slug(self) -> str | None:
        """The refusal's slug (``None`` for an answer that is not a refusal)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("slug"))
        return None


_NO_BODY: Any = object()


@dataclass
class Client:
    """One browser: its cookie jar (the session), and the CSRF token its login gave."""

    base: str
    http: aiohttp.ClientSession
    user: str = "anonymous"
    csrf: str = ""

    async def send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = _NO_BODY,
        data: str | None = None,
        content_type: str | None = None,
        csrf: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request (``path`` already URL-encoded), with the CSRF header unless told not to."""
        sent: dict[str, str] = {}
        if csrf and self.csrf:
            sent[CSRF_HEADER] = self.csrf
        if content_type is not None:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        kwargs: dict[str, Any] = {}
        if json_body is not _NO_BODY:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        url = yarl.URL(self.base + path, encoded=True)
        async with self.http.request(method, url, headers=sent, **kwargs) as response:
            text = await response.text()
            body = json.loads(text) if response.content_type == "application/json" else text
            return Answer(status=response.status, headers=dict(response.headers), body=body)

    async def get(self, path: str, **kw: Any) -> Answer:
        return await self.send("GET", path, **kw)

    async def post(self, path: str, body: Any = _NO_BODY, **kw: Any) -> Answer:
        return await self.send("POST", path, json_body=body, **kw)

    async def put(self, path: str, body: Any = _NO_BODY, **kw: Any) -> Answer:
        return await self.send("PUT", path, json_body=body, **kw)

    async def ok(self, method: str, path: str, body: Any = _NO_BODY) -> Any:
        """A request that must succeed; its JSON document."""
        answer = await self.send(method, path, json_body=body)
        assert 200 <= answer.status < 300, (method, path, answer)
        return answer.body


@dataclass
class Console:
    """The running service, its fake Asterisk, and one logged-in client per role."""

    service: Service
    fake: FakeAsterisk
    config_path: Path
    url: str
    clients: dict[Role, Client] = field(default_factory=dict)
    _http: list[aiohttp.ClientSession] = field(default_factory=list)
    _abandoned: str | None = None

    @property
    def viewer(self) -> Client:
        return self.clients[Role.VIEWER]

    @property
    def supervisor(self) -> Client:
        return self.clients[Role.SUPERVISOR]

    @property
    def admin(self) -> Client:
        return self.clients[Role.ADMIN]

    def anonymous(self) -> Client:
        """A new browser, nobody logged in."""
        # Cookies from a bare IP address are only kept by an "unsafe" jar.
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self._http.append(http)
        return Client(base=self.url, http=http)

    async def login(
        self, name: str, password: str, *, headers: Mapping[str, str] | None = None
    ) -> Client:
        """A new browser, logged in as ``name``."""
        client = self.anonymous()
        answer = await client.post(
            API + "/login", {"username": name, "password": password}, headers=headers
        )
        assert answer.status == 200, answer
        client.user, client.csrf = name, answer.body["csrf"]
        return client

    async def login_as(self, role: Role) -> Client:
        """A new browser, logged in as the user of ``role``."""
        return await self.login(*USERS[role])

    async def close(self) -> None:
        """Close every browser."""
        for http in self._http:
            await http.close()
        self._http.clear()

    # -- calls and agents ----------------------------------------------------------------

    def agent_state(self, agent: str) -> AgentState:
        return self.service.engine.agent(AgentId(agent)).state

    async def place_caller(self, dept: str, number: str) -> tuple[str, str]:
        """A 15 call for ``dept`` waits in its queue; (the fake's Uniqueid, the call id)."""
        uid = self.fake.add_caller(dept, caller_num=number)
        call = f"pbx1/{uid}"

        async def waiting() -> bool | None:
            view = await self.supervisor.ok("GET", f"{API}/departments/{dept}")
            found = [c for c in view["calls"] if c["call"] == call]
            return True if found and found[0]["state"] == "waiting" else None

        await eventually(waiting, timeout_s=3.0, what=f"call {call} waiting in {dept}")
        return uid, call

    @contextlib.asynccontextmanager
    async def held(self, dept: str) -> AsyncIterator[None]:
        """The department's ARM paused meanwhile: its callers wait; then all is served."""
        agents = AGENTS[dept]
        await until(lambda: not self.service.engine.live_calls(), what="no live call")
        for agent in agents:
            await self.admin.ok("POST", f"{API}/agents/{agent}/pause", {"reason": "briefing"})
        assert {self.agent_state(a) for a in agents} == {AgentState.PAUSED}
        try:
            yield
        finally:
            for agent in agents:
                await self.admin.ok("POST", f"{API}/agents/{agent}/unpause")
            await until(lambda: not self.service.engine.live_calls(), what="every call served")

    async def abandoned_call(self) -> str:
        """An abandoned call of the 75 in the callback worklist (made once per service)."""
        if self._abandoned is None:
            async with self.held("75"):
                uid, call = await self.place_caller("75", "0611223344")
                assert self.fake.hangup_caller(uid)

                async def listed() -> bool | None:
                    items = (await self.supervisor.ok("GET", f"{API}/callbacks"))["items"]
                    return True if any(call in i["call_ids"] for i in items) else None

                await eventually(listed, what=f"{call} in the callback worklist")
            self._abandoned = call
        return self._abandoned


@contextlib.asynccontextmanager
async def running_console(tmp: Path) -> AsyncIterator[Console]:
    """Start the fake Asterisk and the service, log a client in per role; stop it all after."""
    config = write_config(tmp)
    write_users(tmp)
    fake = await FakeAsterisk(FAKE).start()
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    console: Console | None = None
    try:
        fake.register_agents(f"PJSIP/{a}" for agents in AGENTS.values() for a in agents)
        target = PbxTarget(
            host="127.0.0.1", port=fake.port, username=FAKE.username, secret=FAKE.secret
        )
        service = build_service(str(config), targets={"pbx1": target})
        task = asyncio.create_task(run_service(service, login_all=True, stop=stop))
        await until(
            lambda: task.done() or not _not_ready(service, fake),
            timeout_s=10,
            what=lambda: _not_ready(service, fake),
        )
        if task.done():
            task.result()  # the service stopped at start: its error says why
            pytest.fail("the service stopped at start")
        assert service.console is not None
        console = Console(service=service, fake=fake, config_path=config, url=service.console.url)
        for role in Role:
            console.clients[role] = await console.login_as(role)
        yield console
    finally:
        if console is not None:
            await console.close()
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 20)
        await fake.stop()


def _not_ready(service: Service, fake: FakeAsterisk) -> str:
    """What the service still lacks to be tested ("" once ready)."""
    engine = service.engine
    away = [
        a
        for agents in AGENTS.values()
        for a in agents
        if engine.agent(AgentId(a)).state is not AgentState.AVAILABLE
    ]
    missing = {
        "console listening": service.console is not None and service.console.port != 0,
        "lease held": service.leadership.role.value == "active",
        f"ARM available ({away})": not away,
        "heartbeat on the PBX": fake.global_var("ACD_HEARTBEAT") != "",
    }
    return ", ".join(k for k, ok in missing.items() if not ok)
