"""Logins (rate limits, one password check at a time), proxy identities and safe redirects."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import argon2
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from acd.config.models import ConsoleAuthConfig, ConsoleConfig
from acd.console.errors import ApiError
from acd.console.roles import Role
from acd.console.security import (
    COOKIE,
    MAX_WAITING_CHECKS,
    USER_CEILING,
    Identity,
    LoginRefused,
    Security,
)
from acd.console.users import User, UsersFile

CHEAP = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "marie-password-15"
MAX_FAILURES = 5
WINDOW = 300.0
IDLE = 2 * 3600.0

Audit = list[tuple[str, str, str, dict[str, Any]]]


class CountingUsers(UsersFile):
    """A users file that counts its password checks and holds them until ``gate`` opens."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, hasher=CHEAP)
        self.gate = threading.Event()
        self.gate.set()
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self.threads: set[str] = set()
        self._count = threading.Lock()

    def verify(self, name: str, password: str) -> User | None:
        """Count the check, wait for the gate, then check for real."""
        with self._count:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.threads.add(threading.current_thread().name)
        try:
            self.gate.wait(5.0)
            return super().verify(name, password)
        finally:
            with self._count:
                self.running -= 1


class Clock:
    """A settable wall clock."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def users(tmp_path: Path) -> CountingUsers:
    """marie the supervisor, and paul the viewer."""
    file = CountingUsers(tmp_path / "users.yaml")
    file.add("marie", Role.SUPERVISOR, PASSWORD)
    file.add("paul", Role.VIEWER, "paul-password-15")
    return file


@pytest.fixture
def clock() -> Clock:
    """The security's clock, moved by the tests."""
    return Clock()


@pytest.fixture
def audit() -> Audit:
    """The audit entries written: (user, action, target, details)."""
    return []


def make_security(users: UsersFile | None, audit: Audit, clock: Clock, **auth: Any) -> Security:
    """A security over ``users`` whose audit entries go to ``audit``."""

    def hook(who: Identity, action: str, target: str, details: dict[str, Any]) -> None:
        audit.append((who.user, action, target, details))

    config = ConsoleConfig(
        auth=ConsoleAuthConfig(
            login_max_failures=MAX_FAILURES, login_window_s=WINDOW, session_idle_s=IDLE, **auth
        )
    )
    return Security(config, users=users, audit=hook, clock=clock)


@pytest.fixture
def security(users: CountingUsers, audit: Audit, clock: Clock) -> Iterator[Security]:
    """The login form's security, five failures per five minutes."""
    sec = make_security(users, audit, clock)
    yield sec
    sec.close()


@pytest.fixture
def proxied(audit: Audit, clock: Clock) -> Iterator[Security]:
    """A security behind a single sign-on proxy at 127.0.0.1."""
    sec = make_security(None, audit, clock, mode="proxy")
    yield sec
    sec.close()


def request(
    peer: str = "192.0.2.1",
    headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
    path: str = "/api/v1/login",
) -> web.Request:
    """A request from ``peer`` (headers may repeat when given as pairs)."""
    made = make_mocked_request("POST", path, headers=CIMultiDict(headers or {}))
    return made.clone(remote=peer)


async def attempt(sec: Security, name: str, password: str, peer: str) -> str:
    """One login: ``ok``, or the refusal's slug."""
    try:
        await sec.login(request(peer), name, password)
    except ApiError as err:
        return err.slug
    return "ok"


def refusals(audit: Audit) -> list[tuple[str, str, str, dict[str, Any]]]:
    """The audit entries of refused logins."""
    return [entry for entry in audit if entry[1] == "login-refused"]


# -- bursts -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_burst_from_many_addresses_hashes_only_a_few_passwords(
    security: Security, users: CountingUsers
) -> None:
    """50 concurrent wrong passwords: one check runs, a few wait, the rest get 429 at once."""
    users.gate.clear()
    tasks = [
        asyncio.create_task(attempt(security, "marie", "guess", f"198.51.100.{i}"))
        for i in range(50)
    ]
    await asyncio.sleep(0.05)
    users.gate.set()
    slugs = await asyncio.gather(*tasks)
    assert users.calls == 1 + MAX_WAITING_CHECKS
    assert slugs.count("bad-credentials") == 1 + MAX_WAITING_CHECKS
    assert slugs.count("too-many-attempts") == 50 - 1 - MAX_WAITING_CHECKS
    assert users.most_at_once == 1
    assert {t.split("_")[0] for t in users.threads} == {"acd-login"}
    assert await attempt(security, "marie", PASSWORD, "192.0.2.99") == "ok"


@pytest.mark.asyncio
async def test_a_refusal_for_too_many_logins_at_once_asks_to_retry_in_a_second(
    security: Security, users: CountingUsers
) -> None:
    """The login beyond the waiting checks is refused with Retry-After 1, without a check."""
    users.gate.clear()
    tasks = [
        asyncio.create_task(attempt(security, "paul", "guess", f"198.51.100.{i}"))
        for i in range(1 + MAX_WAITING_CHECKS)
    ]
    await asyncio.sleep(0.05)
    with pytest.raises(LoginRefused) as refused:
        await security.login(request("203.0.113.1"), "marie", PASSWORD)
    assert refused.value.retry_after == 1.0
    users.gate.set()
    assert set(await asyncio.gather(*tasks)) == {"bad-credentials"}
    assert users.calls == 1 + MAX_WAITING_CHECKS
    assert await attempt(security, "marie", PASSWORD, "203.0.113.1") == "ok"


@pytest.mark.asyncio
async def test_a_burst_from_one_address_meets_the_limit_before_any_check(
    security: Security, users: CountingUsers, audit: Audit
) -> None:
    """Concurrent guesses count before their check: only login_max_failures are hashed."""
    users.gate.clear()
    tasks = [
        asyncio.create_task(attempt(security, "marie", f"guess-{i}", "198.51.100.7"))
        for i in range(50)
    ]
    await asyncio.sleep(0.05)
    users.gate.set()
    slugs = await asyncio.gather(*tasks)
    assert users.calls == MAX_FAILURES
    assert slugs.count("too-many-attempts") == 50 - MAX_FAILURES
    assert len(refusals(audit)) == 1
    assert [a for a in audit if a[1] == "login-failed"] == [
        ("marie", "login-failed", "marie", {})
    ] * MAX_FAILURES


# -- lockouts ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_failures_from_one_address_do_not_lock_the_user_out_elsewhere(
    security: Security,
) -> None:
    """Five wrong passwords for marie from one address: that address waits, marie does not."""
    for _ in range(MAX_FAILURES):
        assert await attempt(security, "marie", "guess", "198.51.100.7") == "bad-credentials"
    assert await attempt(security, "marie", PASSWORD, "198.51.100.7") == "too-many-attempts"
    assert await attempt(security, "marie", PASSWORD, "10.15.0.12") == "ok"


@pytest.mark.asyncio
async def test_an_address_guessing_many_names_is_held_back(security: Security) -> None:
    """Failures for several names from one address hold that address back for any name."""
    for i in range(MAX_FAILURES):
        assert await attempt(security, f"user{i}", "guess", "198.51.100.7") == "bad-credentials"
    assert await attempt(security, "paul", "paul-password-15", "198.51.100.7") == (
        "too-many-attempts"
    )
    assert await attempt(security, "paul", "paul-password-15", "198.51.100.8") == "ok"


@pytest.mark.asyncio
async def test_a_user_name_guessed_from_many_addresses_meets_a_higher_ceiling(
    security: Security, clock: Clock
) -> None:
    """Four times login_max_failures for one name, from anywhere, hold it back for the window."""
    ceiling = USER_CEILING * MAX_FAILURES
    for i in range(ceiling):
        assert await attempt(security, "marie", "guess", f"198.51.100.{i}") == "bad-credentials"
    assert await attempt(security, "marie", PASSWORD, "10.15.0.12") == "too-many-attempts"
    assert await attempt(security, "paul", "paul-password-15", "10.15.0.12") == "ok"
    clock.now += WINDOW
    assert await attempt(security, "marie", PASSWORD, "10.15.0.12") == "ok"


@pytest.mark.asyncio
async def test_a_success_clears_the_count_of_that_address(security: Security) -> None:
    """Four typos then the right password: the next typos start from zero."""
    for _ in range(MAX_FAILURES - 1):
        assert await attempt(security, "marie", "typo", "10.15.0.12") == "bad-credentials"
    assert await attempt(security, "marie", PASSWORD, "10.15.0.12") == "ok"
    for _ in range(MAX_FAILURES - 1):
        assert await attempt(security, "marie", "typo", "10.15.0.12") == "bad-credentials"
    assert await attempt(security, "marie", PASSWORD, "10.15.0.12") == "ok"


@pytest.mark.asyncio
async def test_a_refused_login_is_audited_once_per_key_and_window(
    security: Security, audit: Audit, clock: Clock
) -> None:
    """Ten refusals of one address: one entry; another address: its own; a new window: again."""
    for peer in ("198.51.100.7", "198.51.100.8"):
        for _ in range(MAX_FAILURES):
            await attempt(security, "marie", "guess", peer)
    for _ in range(10):
        assert await attempt(security, "marie", "guess", "198.51.100.7") == "too-many-attempts"
    [entry] = refusals(audit)
    assert entry[:3] == ("marie", "login-refused", "marie")
    assert entry[3]["held"] == ["user+address", "address"]
    assert entry[3]["retry_after_s"] == WINDOW
    assert await attempt(security, "marie", "guess", "198.51.100.8") == "too-many-attempts"
    assert len(refusals(audit)) == 2
    clock.now += WINDOW
    for _ in range(MAX_FAILURES):
        await attempt(security, "marie", "guess", "198.51.100.7")
    for _ in range(10):
        assert await attempt(security, "marie", "guess", "198.51.100.7") == "too-many-attempts"
    assert len(refusals(audit)) == 3


@pytest.mark.asyncio
async def test_after_close_logins_are_refused_without_a_check(
    security: Security, users: CountingUsers
) -> None:
    """A stopping console checks no more passwords."""
    security.close()
    security.close()  # twice is harmless
    assert await attempt(security, "marie", PASSWORD, "10.15.0.12") == "too-many-attempts"
    assert users.calls == 0


# -- addresses behind a proxy ---------------------------------------------------------------


def test_the_client_address_is_the_last_one_a_trusted_proxy_forwarded(
    security: Security,
) -> None:
    """Several X-Forwarded-For headers read as one list; from elsewhere the peer counts."""
    forwarded = [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "10.0.0.1, 10.15.0.12")]
    assert security.source(request("127.0.0.1", forwarded)) == "10.15.0.12"
    assert security.source(request("198.51.100.7", forwarded)) == "198.51.100.7"


# -- the single sign-on proxy --------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers",
    [
        [("X-Remote-User", "mallory"), ("X-Remote-User", "marie")],
        [("X-Remote-User", "marie"), ("X-Remote-Role", "admin"), ("X-Remote-Role", "viewer")],
    ],
    ids=["user-twice", "role-twice"],
)
async def test_a_repeated_identity_header_is_not_authenticated(
    proxied: Security, caplog: pytest.LogCaptureFixture, headers: list[tuple[str, str]]
) -> None:
    """A proxy that adds its header next to the client's: nobody, and one warning."""
    with caplog.at_level(logging.WARNING, logger="acd.console"):
        for _ in range(3):
            assert await proxied.identify(request("127.0.0.1", headers)) is None
    assert len([r for r in caplog.records if "times in one request" in r.message]) == 1


@pytest.mark.asyncio
async def test_a_single_identity_header_names_the_person(proxied: Security) -> None:
    """One user header and one role header: that person with that role."""
    who = await proxied.identify(
        request("127.0.0.1", {"X-Remote-User": "marie", "X-Remote-Role": "supervisor"})
    )
    assert who is not None
    assert (who.user, who.role) == ("marie", Role.SUPERVISOR)


@pytest.mark.asyncio
async def test_a_proxy_session_in_use_does_not_expire(proxied: Security, clock: Clock) -> None:
    """Each request behind the proxy touches the session: its idle limit moves on."""
    headers = {"X-Remote-User": "marie", "X-Remote-Role": "supervisor"}
    who = await proxied.identify(request("127.0.0.1", headers))
    assert who is not None
    session = proxied.ensure_session(who).session
    assert session is not None
    headers["Cookie"] = f"{COOKIE}={session.id}"
    for _ in range(3):
        clock.now += IDLE - 60
        again = await proxied.identify(request("127.0.0.1", headers))
        assert again is not None
        assert again.session is not None
        assert again.session.id == session.id


@pytest.mark.asyncio
async def test_a_proxy_identity_without_a_page_creates_no_session(proxied: Security) -> None:
    """Identifying a request leaves the sessions alone: only pages and `me` make one."""
    for _ in range(5):
        who = await proxied.identify(request("127.0.0.1", {"X-Remote-User": "marie"}))
        assert who is not None
        assert who.session is None
    assert len(proxied.sessions) == 0


# -- redirects --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/", "/"),
        ("/agents", "/agents"),
        ("/departments/2A", "/departments/2A"),
        ("/login?next=%2Fcallbacks%3Fdept%3D75", "/login?next=%2Fcallbacks%3Fdept%3D75"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("/ /evil.example", "/"),
        ("/a\\b", "/"),
        ("/%2F/evil.example", "/"),
        ("/%5C/evil.example", "/"),
        ("/%09/evil.example", "/"),
        ("https://evil.example/", "/"),
        ("evil.example", "/"),
        ("", "/"),
        ("/caf\u00e9", "/"),
    ],
)
def test_only_plain_local_paths_are_redirect_targets(target: str, expected: str) -> None:
    """Anything that a browser could read as another host falls back to the home page."""
    assert Security.local_path(target) == expected
