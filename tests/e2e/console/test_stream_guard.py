"""The live stream's guards: its session checked at push time, its origin, how many are open."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import pytest

from acd.console.roles import Role
from acd.console.stream import STREAMS_PER_SESSION
from tests.e2e.console.harness import API, Console

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _next_tiles(ws: aiohttp.ClientWebSocketResponse, timeout_s: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while True:
        msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        if msg.type is aiohttp.WSMsgType.TEXT and msg.json().get("type") == "tiles":
            return msg.json()  # type: ignore[no-any-return]
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            raise ConnectionError(f"closed: {ws.close_code}")


async def test_stream_of_a_logged_out_session_ends_at_the_next_push(console: Console) -> None:
    """Logging out closes the page's stream (4401) without waiting for it to speak."""
    client = await console.login_as(Role.VIEWER)
    ws = await client.http.ws_connect(console.url + API + "/stream")
    try:
        await _next_tiles(ws, 3.0)
        assert (await client.post(API + "/logout")).status == 204
        deadline = time.monotonic() + 4.0
        while not ws.closed and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                await ws.receive(timeout=0.5)
        assert ws.closed
        assert ws.close_code == 4401
    finally:
        await ws.close()


async def test_stream_opened_from_a_foreign_page_is_refused(console: Console) -> None:
    """A socket opened by another site's page (its Origin) is refused: origin-refused."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await console.viewer.http.ws_connect(
            console.url + API + "/stream", headers={"Origin": "https://evil.example"}
        )
    assert refused.value.status == 403
    host = console.url.removeprefix("http://")
    ws = await console.viewer.http.ws_connect(
        console.url + API + "/stream", headers={"Origin": f"http://{host}"}
    )
    await ws.close()


async def test_one_session_cannot_open_streams_without_end(console: Console) -> None:
    """Beyond the streams a session may hold, the next is refused: too-many-streams."""
    client = await console.login_as(Role.VIEWER)
    opened = [
        await client.http.ws_connect(console.url + API + "/stream")
        for _ in range(STREAMS_PER_SESSION)
    ]
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.http.ws_connect(console.url + API + "/stream")
        assert refused.value.status == 429
    finally:
        await asyncio.gather(*(ws.close() for ws in opened))


async def test_every_tile_is_pushed_each_second_while_one_department_is_busy(
    console: Console,
) -> None:
    """Changes in one department do not starve the others' tiles of their refresh."""
    depts = set(console.service.engine.depts)
    async with console.viewer.http.ws_connect(console.url + API + "/stream") as ws:
        seen: set[str] = set()
        stop = time.monotonic() + 2.5
        agent = "arm-7501"
        while time.monotonic() < stop and seen != depts:
            # A change in the 75 every 100 ms: a pause, then an unpause.
            await console.admin.post(f"{API}/agents/{agent}/pause", {"reason": "x"})
            await console.admin.post(f"{API}/agents/{agent}/unpause")
            with contextlib.suppress(TimeoutError):
                push = await _next_tiles(ws, 0.1)
                seen.update(str(t["dept"]) for t in push["tiles"])  # type: ignore[attr-defined]
            await asyncio.sleep(0.05)
    assert seen == depts
