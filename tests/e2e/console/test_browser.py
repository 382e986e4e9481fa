"""The console in a real browser: headless Debian Chromium against the running service.

Each test drives the pages as a supervisor would (log in, watch the wallboard, pause an
ARM, switch crisis mode on, work the callback list) while the fake Asterisk places the
calls. Screenshots of the wallboard and of a department go to ``test-artifacts/console``.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from acd.console.roles import Role
from acd.core.states import AgentState
from tests.e2e.console.harness import API, CRISIS_RULE, USERS, Console, until

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "console"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.asyncio(loop_scope="module")

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page


def _chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing (Debian's chromium)")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium, one for the module."""
    executable = _chromium()
    from playwright.async_api import async_playwright  # noqa: PLC0415 - only with Chromium

    async with async_playwright() as p:
        found = await p.chromium.launch(executable_path=str(executable), args=ARGS)
        yield found
        await found.close()


async def _logged_in(browser: Browser, console: Console, role: Role) -> Page:
    """A fresh browser context logged in through the login page."""
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="fr-FR")
    page = await context.new_page()
    await page.goto(console.url + "/login")
    name, password = USERS[role]
    await page.get_by_test_id("login-user").fill(name)
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()
    await page.wait_for_url(console.url + "/")
    await page.locator('[data-testid="tile"]').first.wait_for()
    return page


async def test_wrong_password_is_rejected_on_the_login_page(
    browser: Browser, console: Console
) -> None:
    """A wrong password leaves the reader on the login page with the reason shown."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(console.url + "/")
    await page.wait_for_url(f"{console.url}/login?next=/")
    await page.get_by_test_id("login-user").fill(USERS[Role.SUPERVISOR][0])
    await page.get_by_test_id("login-password").fill("not-the-password")
    await page.get_by_test_id("login-submit").click()
    error = page.get_by_test_id("login-error")
    await error.wait_for(state="visible")
    assert (await error.text_content() or "").strip()
    assert page.url.startswith(console.url + "/login")
    assert not [c for c in await context.cookies() if c["name"] == "acd_session"]
    await context.close()


async def test_wallboard_shows_a_call_from_the_fake_asterisk_within_a_second(
    browser: Browser, console: Console
) -> None:
    """A caller entering the 75's queue shows on its tile less than a second later."""
    page = await _logged_in(browser, console, Role.VIEWER)
    tile = page.locator('[data-testid="tile"][data-dept="75"]')
    waiting = tile.locator('[data-field="waiting"]')
    async with console.held("75"):
        await page.wait_for_function(
            "el => el.textContent.trim() === '0'", arg=await waiting.element_handle()
        )
        started = time.monotonic()
        console.fake.add_caller("75", caller_num="0144556677")
        await page.wait_for_function(
            "el => el.textContent.trim() === '1'",
            arg=await waiting.element_handle(),
            timeout=5_000,
        )
        shown_after = time.monotonic() - started
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "wallboard.png"), full_page=True)
        await page.goto(console.url + "/departments/75")
        await page.locator('[data-testid="call-row"]').first.wait_for()
        await page.screenshot(path=str(ARTIFACTS / "department.png"), full_page=True)
    await page.context.close()
    assert shown_after < 1.0, f"the call showed {shown_after:.3f} s after it arrived"


async def test_supervisor_pauses_an_agent_and_sees_the_state_change(
    browser: Browser, console: Console
) -> None:
    """Pause from the department view: the ARM's row turns paused, the engine agrees."""
    agent = "arm-9201"
    await until(lambda: console.agent_state(agent) is AgentState.AVAILABLE, what="ARM free")
    page = await _logged_in(browser, console, Role.SUPERVISOR)
    await page.goto(console.url + "/departments/92")
    row = page.locator(f'[data-testid="agent-row"][data-agent="{agent}"]')
    await row.locator('[data-action="pause"]').click()
    dialog = page.get_by_test_id("pause-dialog")
    await dialog.wait_for(state="visible")
    await page.get_by_test_id("pause-confirm").click()
    await page.wait_for_selector(
        f'[data-testid="agent-row"][data-agent="{agent}"][data-state="paused"]', timeout=5_000
    )
    assert console.agent_state(agent) is AgentState.PAUSED
    await row.locator('[data-action="unpause"]').click()
    await page.wait_for_selector(
        f'[data-testid="agent-row"][data-agent="{agent}"][data-state="available"]', timeout=5_000
    )
    await page.context.close()


async def test_crisis_mode_set_in_the_browser_fires_the_overflow_rule(
    browser: Browser, console: Console
) -> None:
    """Crisis on for the 93: its crisis rule turns active on the overflow page."""
    page = await _logged_in(browser, console, Role.SUPERVISOR)
    await page.goto(console.url + "/overflow")
    rule = f'[data-testid="rule-row"][data-rule="{CRISIS_RULE}"]'
    await page.wait_for_selector(f'{rule}[data-active="false"]')
    await page.locator('[data-testid="crisis-toggle"][data-dept="93"]').click()
    await page.wait_for_selector(f'{rule}[data-active="true"]', timeout=5_000)
    assert "93" in console.service.engine.crisis
    await page.locator('[data-testid="crisis-toggle"][data-dept="93"]').click()
    await page.wait_for_selector(f'{rule}[data-active="false"]', timeout=5_000)
    await page.context.close()


async def test_abandoned_call_marked_called_back_in_the_browser(
    browser: Browser, console: Console
) -> None:
    """The callback list shows the abandoned call; a supervisor marks it called back."""
    call = await console.abandoned_call()
    page = await _logged_in(browser, console, Role.SUPERVISOR)
    await page.goto(console.url + "/callbacks")
    row = page.locator(f'[data-testid="callback-row"][data-call="{call}"]')
    await row.wait_for()
    await row.get_by_test_id("callback-status").select_option("called-back")
    await row.locator('[data-action="save-status"]').click()
    await page.wait_for_selector(
        f'[data-testid="callback-row"][data-call="{call}"][data-status="called-back"]',
        timeout=5_000,
    )
    items = (await console.supervisor.ok("GET", f"{API}/callbacks"))["items"]
    (item,) = [i for i in items if call in i["call_ids"]]
    assert item["status"] == "called-back"
    assert item["updated_by"] == USERS[Role.SUPERVISOR][0]
    await page.context.close()
