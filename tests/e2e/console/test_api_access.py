"""Logging in and out of the console: the session cookie, refusals, the login rate limit."""

from __future__ import annotations

import pytest

from acd.console.roles import Role
from tests.e2e.console.harness import API, LOGIN_MAX_FAILURES, SPARE, USERS, Console

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_login_gives_a_strict_http_only_session_cookie_and_a_csrf_token(
    console: Console,
) -> None:
    """The right password: 200, the role and a CSRF token; scripts cannot read the cookie."""
    name, password = USERS[Role.SUPERVISOR]
    browser = console.anonymous()
    answer = await browser.post(f"{API}/login", {"username": name, "password": password})
    assert answer.status == 200, answer
    assert (answer.body["user"], answer.body["role"]) == ("supervisor", "supervisor")
    assert len(answer.body["csrf"]) >= 32
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("acd_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    browser.csrf = answer.body["csrf"]
    me = await browser.get(f"{API}/me")
    assert (me.status, me.body["user"], me.body["csrf"]) == (200, "supervisor", browser.csrf)


@pytest.mark.parametrize(
    ("headers", "secure"),
    [({}, False), ({"X-Forwarded-Proto": "https"}, True)],
    ids=["plain-http", "behind-tls-proxy"],
)
async def test_the_session_cookie_is_secure_behind_a_tls_proxy(
    console: Console, headers: dict[str, str], secure: bool
) -> None:
    """A trusted proxy saying the browser came over https gets a ``Secure`` cookie."""
    name, password = USERS[Role.VIEWER]
    answer = await console.anonymous().post(
        f"{API}/login", {"username": name, "password": password}, headers=headers
    )
    assert answer.status == 200, answer
    assert ("Secure" in answer.headers["Set-Cookie"]) is secure


@pytest.mark.parametrize(
    ("name", "address"),
    [("viewer", "192.0.2.10"), ("nobody", "192.0.2.11")],
    ids=["wrong-password", "unknown-user"],
)
async def test_a_wrong_password_or_an_unknown_user_is_refused_alike(
    console: Console, name: str, address: str
) -> None:
    """Wrong password, or no such user: the same 401 ``bad-credentials``, no cookie."""
    answer = await console.anonymous().post(
        f"{API}/login",
        {"username": name, "password": "not-the-password"},
        headers={"X-Forwarded-For": address},
    )
    assert (answer.status, answer.slug) == (401, "bad-credentials"), answer
    assert "Set-Cookie" not in answer.headers


async def test_too_many_failed_logins_are_refused_with_a_retry_delay(console: Console) -> None:
    """After ``login_max_failures`` failures that address waits (429), the person elsewhere not."""
    name, password = SPARE
    first = {"X-Forwarded-For": "192.0.2.20"}
    for _ in range(LOGIN_MAX_FAILURES):
        answer = await console.anonymous().post(
            f"{API}/login", {"username": name, "password": "guessing-again"}, headers=first
        )
        assert (answer.status, answer.slug) == (401, "bad-credentials"), answer
    answer = await console.anonymous().post(
        f"{API}/login", {"username": name, "password": password}, headers=first
    )
    assert (answer.status, answer.slug) == (429, "too-many-attempts"), answer
    assert int(answer.headers["Retry-After"]) >= 1
    other = await console.anonymous().post(
        f"{API}/login", {"username": "viewer", "password": "viewer-password-15"}, headers=first
    )
    assert (other.status, other.slug) == (429, "too-many-attempts"), other  # the address too
    elsewhere = await console.anonymous().post(
        f"{API}/login",
        {"username": name, "password": password},
        headers={"X-Forwarded-For": "192.0.2.21"},
    )
    assert elsewhere.status == 200, elsewhere  # the user is not locked out from elsewhere


async def test_a_login_without_a_password_is_an_invalid_request(console: Console) -> None:
    """A login body without its password: 422 ``invalid-request``."""
    answer = await console.anonymous().post(f"{API}/login", {"username": "viewer"})
    assert (answer.status, answer.slug) == (422, "invalid-request"), answer


async def test_logout_ends_the_session(console: Console) -> None:
    """After logout the same browser is a stranger: 401 ``not-authenticated``."""
    browser = await console.login_as(Role.SUPERVISOR)
    answer = await browser.post(f"{API}/logout")
    assert answer.status == 204, answer
    for path in ("/me", "/wallboard"):
        after = await browser.get(API + path)
        assert (after.status, after.slug) == (401, "not-authenticated"), after
    pause = await browser.post(f"{API}/agents/arm-7501/pause", {"reason": "repas"})
    assert (pause.status, pause.slug) == (401, "not-authenticated"), pause


async def test_a_change_from_the_console_own_origin_is_accepted(console: Console) -> None:
    """The console's own Origin and a same-origin fetch pass the origin check."""
    headers = {"Origin": console.url, "Sec-Fetch-Site": "same-origin"}
    answer = await console.supervisor.put(
        f"{API}/departments/93/crisis", {"on": False}, headers=headers
    )
    assert answer.status == 200, answer
