"""Abuse of the login and the redirects: bursts, lockouts, a floodable audit trail, open redirects.

Every login here comes "from" an X-Forwarded-For address (the console trusts loopback as its
proxy), so that the per-address limits never hold back the shared clients of the harness.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import yarl

from acd.console.roles import Role
from acd.console.security import USER_CEILING
from acd.console.users import User, UsersFile
from tests.e2e.console.harness import (
    API,
    CHEAP,
    LOGIN_MAX_FAILURES,
    SPARE,
    Answer,
    Console,
    eventually,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

BURST = 50


def add_user(console: Console, name: str) -> str:
    """A new viewer in the running service's users file; their password."""
    password = f"{name}-password-15"
    UsersFile(console.config_path.parent / "users.yaml", hasher=CHEAP).add(
        name, Role.VIEWER, password
    )
    return password


def count_checks(console: Console, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The user names whose password the console checks from now on (one entry per check)."""
    assert console.service.console is not None
    users = console.service.console.security.users
    assert users is not None
    checked: list[str] = []
    verify: Callable[[str, str], User | None] = users.verify

    def counted(name: str, password: str) -> User | None:
        checked.append(name)
        return verify(name, password)

    monkeypatch.setattr(users, "verify", counted)
    return checked


async def login(console: Console, name: str, password: str, address: str) -> Answer:
    """One login from ``address`` in a new browser."""
    return await console.anonymous().post(
        f"{API}/login",
        {"username": name, "password": password},
        headers={"X-Forwarded-For": address},
    )


async def audited(console: Console, actor: str, action: str) -> list[dict[str, Any]]:
    """The audit entries of ``actor`` for ``action``."""
    trail = await console.admin.ok("GET", f"{API}/audit?actor={actor}&action={action}")
    items: list[dict[str, Any]] = trail["items"]
    return items


async def test_a_burst_from_one_address_is_refused_unchecked_and_locks_nobody_out(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 concurrent wrong passwords: a handful checked, the rest 429; the person still logs in."""
    name, password = SPARE
    checked = count_checks(console, monkeypatch)
    answers = await asyncio.gather(
        *(login(console, name, f"guess-{i}", "192.0.2.50") for i in range(BURST))
    )
    statuses = [a.status for a in answers]
    assert len(checked) <= LOGIN_MAX_FAILURES, checked
    assert statuses.count(401) == len(checked)
    assert statuses.count(429) == BURST - len(checked)
    assert {a.slug for a in answers if a.status == 429} == {"too-many-attempts"}
    elsewhere = await login(console, name, password, "192.0.2.51")
    assert elsewhere.status == 200, elsewhere


async def test_a_refused_burst_leaves_one_audit_entry_not_fifty(console: Console) -> None:
    """The audit trail gets one `login-refused` per key and window, however many attempts."""
    name = "audit-target"
    add_user(console, name)
    answers = await asyncio.gather(
        *(login(console, name, f"guess-{i}", "192.0.2.60") for i in range(BURST))
    )
    failed = sum(a.status == 401 for a in answers)
    assert sum(a.status == 429 for a in answers) == BURST - failed

    async def all_written() -> list[dict[str, Any]] | None:
        failures = await audited(console, name, "login-failed")
        refused = await audited(console, name, "login-refused")
        return refused if len(failures) == failed and refused else None

    refused = await eventually(all_written, what="the burst's audit entries written")
    assert len(refused) == 1, refused
    assert refused[0]["source"] == "192.0.2.60"
    again = await login(console, name, "one-more-guess", "192.0.2.60")
    assert again.status == 429
    await asyncio.sleep(0.3)
    assert len(await audited(console, name, "login-refused")) == 1


async def test_the_routing_loop_stays_responsive_during_a_burst_of_costly_checks(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wrong logins from 50 addresses (full-cost argon2): few checked, /healthz still quick."""
    checked = count_checks(console, monkeypatch)
    latencies: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        async with aiohttp.ClientSession() as http:
            while not done.is_set():
                start = time.monotonic()
                async with http.get(console.url + "/healthz") as answer:
                    assert answer.status == 200
                latencies.append(time.monotonic() - start)
                await asyncio.sleep(0.01)

    prober = asyncio.create_task(probe())
    try:
        # An unknown name is checked against a throwaway hash with the service's real settings.
        answers = await asyncio.gather(
            *(login(console, "nobody-here", "guess", f"198.51.100.{i}") for i in range(BURST))
        )
    finally:
        done.set()
        await prober
    statuses = [a.status for a in answers]
    assert len(checked) <= USER_CEILING * LOGIN_MAX_FAILURES, checked
    assert statuses.count(401) == len(checked)
    assert statuses.count(429) == BURST - len(checked)
    assert latencies
    assert max(latencies) < 0.5, latencies


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/%0A/evil.example",
        "//evil.example",
        "/%5C/evil.example",
        "/%5Cevil.example",
        "/%2F/evil.example",
        "https://evil.example/",
        "/%20/evil.example",
    ],
)
async def test_the_language_switch_never_redirects_to_another_site(
    console: Console, target: str
) -> None:
    """`/lang/en?next=...` sends anything but a plain local path to `/`."""
    url = yarl.URL(f"{console.url}/lang/en?next={target}", encoded=True)
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, allow_redirects=False) as answer,
    ):
        assert answer.status == 302
        assert answer.headers["Location"] == "/"


async def test_the_language_switch_goes_back_to_a_local_page(console: Console) -> None:
    """A plain local path, query included, is where the switch sends the browser back."""
    url = yarl.URL(f"{console.url}/lang/en?next=%2Flogin%3Fnext%3D%252Fagents", encoded=True)
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as answer:
        assert answer.status == 302
        back = yarl.URL(console.url).join(yarl.URL(answer.headers["Location"]))
    assert back.origin() == yarl.URL(console.url).origin()
    assert (back.path, back.query["next"]) == ("/login", "/agents")
