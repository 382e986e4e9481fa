"""Single sign-on: a reverse proxy names the user and the role, believed only from its address."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from multidict import CIMultiDict

from acd.bootstrap import PbxTarget, build_service, run_service
from acd.core.states import AgentState
from connectors.asterisk.fake import FakeAsterisk
from tests.e2e.console.harness import API, FAKE, Client, eventually, until

pytestmark = pytest.mark.asyncio(loop_scope="module")

CONFIG = """\
instance: {{name: console-sso}}
pbx:
  - {{name: pbx1, host: 127.0.0.1, username: acd15, secret: {{env: ACD_NOT_READ}}}}
redis: {{url: "memory://"}}
journal: {{url: "sqlite:///{tmp}/journal.db", spool: "{tmp}/journal.spool"}}
console:
  port: 0
  auth: {{mode: proxy, trusted_proxies: [{trusted}]}}
departments:
  - {{id: "75", name: SAMU de Paris, queues: [{{id: 75-general}}]}}
agents:
  - {{id: arm-7501, name: ARM 1, endpoint: PJSIP/arm-7501, serves: [{{dept: "75"}}]}}
"""


@contextlib.asynccontextmanager
async def _service(tmp: Path, trusted: str) -> AsyncIterator[str]:
    """A service whose console trusts identity headers from ``trusted`` only; its URL."""
    (tmp / "acd.yaml").write_text(CONFIG.format(tmp=tmp, trusted=trusted), encoding="utf-8")
    fake = await FakeAsterisk(FAKE).start()
    fake.register_agents(["PJSIP/arm-7501"])
    stop = asyncio.Event()
    target = PbxTarget(host="127.0.0.1", port=fake.port, username=FAKE.username, secret=FAKE.secret)
    service = build_service(str(tmp / "acd.yaml"), targets={"pbx1": target})
    task = asyncio.create_task(run_service(service, login_all=True, stop=stop))
    try:
        await until(
            lambda: (
                service.console is not None
                and service.console.port != 0
                and service.leadership.role.value == "active"
                and service.engine.agent("arm-7501").state is AgentState.AVAILABLE
            ),  # type: ignore[arg-type]
            timeout_s=10,
            what="console listening, instance active, ARM logged in",
        )
        assert service.console is not None
        yield service.console.url
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await fake.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The console behind a proxy on this host (loopback is the trusted proxy)."""
    async with _service(tmp_path_factory.mktemp("sso"), '"127.0.0.1"') as url:
        yield url


@contextlib.asynccontextmanager
async def _browser(url: str) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Client(base=url, http=http)


def _as(user: str, role: str | None = None) -> dict[str, str]:
    headers = {"X-Remote-User": user}
    if role is not None:
        headers["X-Remote-Role"] = role
    return headers


async def test_proxy_named_supervisor_acts_with_a_session_for_csrf(behind_proxy: str) -> None:
    """The proxy's user and role are the person's; `me` gives a session and its CSRF token."""
    alice = _as("alice", "supervisor")
    async with _browser(behind_proxy) as browser:
        me = await browser.get(API + "/me", headers=alice)
        assert me.status == 200
        assert (me.body["user"], me.body["role"]) == ("alice", "supervisor")
        browser.csrf = me.body["csrf"]
        paused = await browser.post(
            API + "/agents/arm-7501/pause",
            {"reason": "briefing"},
            headers=_as("alice", "supervisor"),
        )
        assert paused.status == 200, paused
        done = await browser.post(API + "/agents/arm-7501/unpause", headers=alice)
        assert done.status == 200, done

        async def audited() -> list[str] | None:
            trail = await browser.get(
                API + "/audit?actor=alice", headers=_as("alice", "supervisor")
            )
            actions = [i["action"] for i in trail.body["items"]]
            return actions if "agent-pause" in actions else None

        assert "agent-pause" in await eventually(audited, what="alice's pause audited")


async def test_no_identity_header_is_not_authenticated(behind_proxy: str) -> None:
    """Without the proxy's user header nobody is logged in (and the login form is closed)."""
    async with _browser(behind_proxy) as browser:
        answer = await browser.get(API + "/wallboard")
        assert (answer.status, answer.slug) == (401, "not-authenticated")
        login = await browser.post(API + "/login", {"username": "a", "password": "b"})
        assert (login.status, login.slug) == (403, "forbidden")


async def test_missing_or_unknown_role_is_a_viewer(behind_proxy: str) -> None:
    """No role header, or one the console does not know: a viewer, who cannot pause."""
    for headers in (_as("bob"), _as("bob", "root")):
        async with _browser(behind_proxy) as browser:
            me = await browser.get(API + "/me", headers=headers)
            assert me.body["role"] == "viewer"
            browser.csrf = me.body["csrf"]
            answer = await browser.post(
                API + "/agents/arm-7501/pause", {"reason": "x"}, headers=headers
            )
            assert (answer.status, answer.slug) == (403, "forbidden")


async def test_proxy_naming_someone_else_does_not_inherit_the_session(behind_proxy: str) -> None:
    """A session made for alice does not carry over when the proxy now names mallory."""
    async with _browser(behind_proxy) as browser:
        me = await browser.get(API + "/me", headers=_as("alice", "supervisor"))
        browser.csrf = me.body["csrf"]
        answer = await browser.post(
            API + "/agents/arm-7501/pause", {"reason": "x"}, headers=_as("mallory", "supervisor")
        )
        assert (answer.status, answer.slug) == (403, "csrf-failed")


async def test_identity_headers_from_an_untrusted_address_are_ignored(
    tmp_path: Path,
) -> None:
    """A console trusting another proxy ignores headers sent from here: not authenticated."""
    async with _service(tmp_path, '"192.0.2.10"') as url, _browser(url) as browser:
        answer = await browser.get(API + "/wallboard", headers=_as("alice", "admin"))
        assert (answer.status, answer.slug) == (401, "not-authenticated")


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Remote-User", "mallory"), ("X-Remote-User", "alice")],
        [("X-Remote-User", "alice"), ("X-Remote-Role", "admin"), ("X-Remote-Role", "viewer")],
    ],
    ids=["user-twice", "role-twice"],
)
async def test_a_repeated_identity_header_is_not_authenticated(
    behind_proxy: str, headers: list[tuple[str, str]]
) -> None:
    """A proxy adding its header next to the client's one: 401, whichever value is first."""
    async with _browser(behind_proxy) as browser:
        for path in ("/me", "/wallboard"):
            async with browser.http.get(
                behind_proxy + API + path, headers=CIMultiDict(headers)
            ) as answer:
                assert answer.status == 401
                body = await answer.json()
                assert body["error"]["slug"] == "not-authenticated"


async def test_an_api_read_without_a_cookie_creates_no_session(behind_proxy: str) -> None:
    """Only pages and `me` give a proxy-named person a session: other reads set no cookie."""
    async with _browser(behind_proxy) as browser:
        for _ in range(3):
            answer = await browser.get(API + "/wallboard", headers=_as("alice", "supervisor"))
            assert answer.status == 200, answer
            assert "Set-Cookie" not in answer.headers
        me = await browser.get(API + "/me", headers=_as("alice", "supervisor"))
        assert me.headers["Set-Cookie"].startswith("acd_session=")
