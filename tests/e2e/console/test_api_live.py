"""Health, metrics and the live stream: what probes, Prometheus and the wallboard page read."""

from __future__ import annotations

import re
import time
from typing import Any

import aiohttp
import pytest

from tests.e2e.console.harness import AGENTS, API, Console

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_healthz_answers_ok_without_a_session(console: Console) -> None:
    """``/healthz``: 200 while the process runs."""
    answer = await console.anonymous().get("/healthz")
    assert (answer.status, answer.body) == (200, {"status": "ok"})


@pytest.mark.parametrize("query", ["", "?role=active"])
async def test_readyz_answers_ready_on_the_active_instance(console: Console, query: str) -> None:
    """``/readyz`` (and ``?role=active``): 200, role active, every check passed."""
    answer = await console.anonymous().get("/readyz" + query)
    assert answer.status == 200, answer
    assert (answer.body["status"], answer.body["role"]) == ("ok", "active")
    assert all(answer.body["checks"].values()), answer
    assert ("active" in answer.body["checks"]) is (query != "")


async def test_metrics_count_waiting_calls_per_department_without_caller_numbers(
    console: Console,
) -> None:
    """A caller waiting in 75: ``acd_calls_waiting{dept="75"} 1``; the number appears nowhere."""
    async with console.held("75"):
        await console.place_caller("75", "0612345678")
        answer = await console.anonymous().get("/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    waiting = dict(re.findall(r'^acd_calls_waiting\{dept="([^"]+)"\} (\S+)$', answer.body, re.M))
    assert waiting == {"75": "1", "92": "0", "93": "0"}
    assert "12345678" not in answer.body
    assert "pbx1/" not in answer.body


async def test_the_stream_refuses_a_browser_without_a_session(console: Console) -> None:
    """``/api/v1/stream`` without a session: 401 before any upgrade."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await console.anonymous().http.ws_connect(console.url + API + "/stream")
    assert refused.value.status == 401


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout_s: float) -> dict[str, Any]:
    """The next message of ``kind`` (periodic tile pushes in between are skipped)."""
    deadline = time.monotonic() + timeout_s
    while True:
        message: dict[str, Any] = await ws.receive_json(
            timeout=max(0.01, deadline - time.monotonic())
        )
        if message["type"] == kind:
            return message


async def test_the_stream_says_hello_sends_the_wallboard_then_pushes_a_new_call_within_a_second(
    console: Console,
) -> None:
    """Hello, the whole wallboard, then the 75's tile with the new caller in under a second."""
    async with console.viewer.http.ws_connect(console.url + API + "/stream") as ws:
        hello = await ws.receive_json(timeout=2)
        assert hello == {"type": "hello", "user": "viewer", "role": "viewer"}
        board = await ws.receive_json(timeout=2)
        assert board["type"] == "wallboard"
        assert [t["dept"] for t in board["tiles"]] == list(AGENTS)
        async with console.held("75"):
            started = time.monotonic()
            console.fake.add_caller("75", caller_num="0655443322")
            while True:
                left = 1.0 - (time.monotonic() - started)
                try:
                    push = await _next(ws, "tiles", timeout_s=left)
                except TimeoutError:
                    pytest.fail("no push of the 75's new caller within 1 s")
                tiles = {t["dept"]: t for t in push["tiles"]}
                if push["at"] is not None and tiles.get("75", {}).get("waiting") == 1:
                    break
            took = time.monotonic() - started
            assert took < 1.0, f"pushed after {took:.3f} s"
            assert "0655443322" not in str(push)


async def test_the_stream_answers_a_ping_and_refuses_anything_else(console: Console) -> None:
    """The stream is read-only: a ping gets a pong, other text an ``unknown-message`` error."""
    async with console.supervisor.http.ws_connect(console.url + API + "/stream") as ws:
        await _next(ws, "wallboard", timeout_s=2)
        await ws.send_json({"type": "ping", "id": 7})
        assert await _next(ws, "pong", timeout_s=2) == {"type": "pong", "id": 7}
        await ws.send_json({"type": "pause", "agent": "arm-7501"})
        error = await _next(ws, "error", timeout_s=2)
        assert error["slug"] == "unknown-message"
        await ws.send_str("not json")
        assert (await _next(ws, "error", timeout_s=2))["slug"] == "unknown-message"
