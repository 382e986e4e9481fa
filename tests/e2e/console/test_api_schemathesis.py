"""The live OpenAPI document against the live server: generated requests, no 5xx, no lie.

Every operation but login and logout (they would end the session or trip the login rate
limit) gets generated requests, valid and invalid, sent with an admin session: reads with
one, changes with another. Each answer must not be a server error and must conform to the
document (status, content type, schema). Hypothesis runs derandomized: a failure replays.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from acd.console.roles import Role
from acd.console.security import COOKIE, CSRF_HEADER
from tests.e2e.console.harness import API, USERS, Console

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = 25
"""Generated requests per operation and generation mode."""
SKIPPED = ("login", "logout")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)

Operation = APIOperation[Any, Any, Any, Any]


@dataclass
class Browser:
    """A requests session logged in as the admin; its cookie and CSRF header go on every request.

    Both are passed explicitly: the document declares the cookie as the security scheme, so
    generated cases carry a made-up ``acd_session`` of their own, which must not win.
    """

    http: requests.Session
    headers: dict[str, str]
    cookies: dict[str, str]

    @classmethod
    def login(cls, base: str) -> Browser:
        name, password = USERS[Role.ADMIN]
        http = requests.Session()
        answer = http.post(
            f"{base}{API}/login", json={"username": name, "password": password}, timeout=10
        )
        answer.raise_for_status()
        return cls(
            http=http,
            headers={CSRF_HEADER: answer.json()["csrf"]},
            cookies={COOKIE: str(http.cookies[COOKIE])},
        )

    def post(self, url: str) -> None:
        """A change that must succeed."""
        answer = self.http.post(url, headers=self.headers, cookies=self.cookies, timeout=10)
        answer.raise_for_status()


@dataclass(frozen=True)
class Known:
    """Path parameters naming what the service holds, so that requests reach the handlers."""

    dept: str
    agent: str
    waiting: str
    """A call waiting in its queue."""
    abandoned: str
    """An abandoned call in the callback worklist."""

    def parameters(self, operation: Operation) -> dict[str, str] | None:
        """The operation's path parameters, or ``None`` if it has none."""
        names = re.findall(r"\{(\w+)\}", operation.path)
        if not names:
            return None
        call = self.abandoned if operation.path.startswith(f"{API}/callbacks") else self.waiting
        values = {"dept": self.dept, "agent": self.agent, "call": call}
        return {name: values[name] for name in names}


def _fuzz(base: str, document: dict[str, object], known: Known) -> list[str]:
    """Every operation's generated requests, with made-up then known path parameters.

    Returns the failures found, one report per operation and pass.
    """
    schema = schemathesis.openapi.from_dict(document).exclude(operation_id=list(SKIPPED))
    readers, writers = Browser.login(base), Browser.login(base)
    failures: list[str] = []
    try:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            browser = readers if operation.method.upper() == "GET" else writers
            passes: list[tuple[GenerationMode, dict[str, str] | None]] = [(m, None) for m in MODES]
            fixed = known.parameters(operation)
            if fixed is not None:
                passes.append((GenerationMode.POSITIVE, fixed))
                if operation.body or operation.query:  # something else to make invalid
                    passes.append((GenerationMode.NEGATIVE, fixed))
            for mode, parameters in passes:
                writers.post(f"{base}{API}/agents/{known.agent}/login")  # a pause needs a login
                try:
                    _generated(operation, mode, parameters, base, browser)()
                except (
                    Exception
                ) as err:  # every operation's failure is reported, not just the first
                    with_ids = "" if parameters is None else f", {parameters}"
                    failures.append(f"{operation.label} ({mode.value}{with_ids}): {err}")
    finally:
        readers.http.close()
        writers.http.close()
    return failures


def _generated(
    operation: Operation,
    mode: GenerationMode,
    parameters: dict[str, str] | None,
    base: str,
    browser: Browser,
) -> Callable[[], None]:
    """A Hypothesis test sending the operation's generated requests and checking the answers."""
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=parameters)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Case[Operation]) -> None:
        response = case.call(
            base_url=base,
            session=browser.http,
            headers=browser.headers,
            cookies=browser.cookies,
            timeout=10,
        )
        case.validate_response(response, checks=CHECKS, headers=browser.headers)

    return check


async def test_generated_requests_get_no_server_error_and_answers_that_match_the_document(
    console: Console,
) -> None:
    """Schemathesis over ``/api/v1/openapi.json``: no 5xx, every answer as documented."""
    answer = await console.admin.get(f"{API}/openapi.json")
    assert answer.status == 200, answer
    abandoned = await console.abandoned_call()
    async with console.held("75"):
        _, waiting = await console.place_caller("75", "0612345678")
        known = Known(dept="93", agent="arm-9302", waiting=waiting, abandoned=abandoned)
        failures = await asyncio.to_thread(_fuzz, console.url, answer.body, known)
    assert not failures, "\n\n".join(failures)
    readiness = await console.anonymous().get("/readyz?role=active")
    assert readiness.status == 200, readiness
