"""The live stream: tiles of the departments a decision changed, pushed within ~50 ms.

The feed listens to the dispatcher like the hot-state writer does (marks only, cheap,
synchronous); its task turns the marks into tiles at most every ``every_s`` and sends
them to every open socket. Each push says ``at``: when the oldest change it carries
happened at the engine, so a page can tell how late it shows it. A slow socket is
closed rather than allowed to hold back the others (its page reconnects and reloads).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from acd.config.models import ConsoleConfig
from acd.console import views
from acd.console.security import Identity, Security
from acd.console.today import DayFigures
from acd.core import events as ev
from acd.core.commands import AgentRecord, CallRecord, Command, RuleChanged
from acd.core.engine import Engine
from acd.core.ids import AgentId, DeptId

log = logging.getLogger("acd.console")

SEND_TIMEOUT_S = 2.0
"""A socket that cannot take a push within this long is closed."""

REFRESH_S = 1.0
"""Every tile is pushed at least this often: waits grow with time, not only with events."""


STREAMS_PER_SESSION = 8
"""Open streams one session may hold (a few tabs; more is a leak or an abuse)."""
STREAMS_MAX = 500
"""Open streams in all."""
RECHECK_S = 1.0
"""A stream's session is checked again at most this often, at push time."""


@dataclass(eq=False)
class _Client:
    ws: web.WebSocketResponse
    who: Identity
    request: web.Request
    checked: float = 0.0


@dataclass
class FeedStats:
    """What the feed did (for /metrics)."""

    pushes: int = 0
    clients_closed_slow: int = 0
    last_push_lag_s: float = 0.0
    """Engine change → push sent, for the last push that carried a change."""


class Feed:
    """Marks departments as decisions change them; pushes their tiles to the sockets."""

    def __init__(
        self,
        *,
        engine: Engine,
        config: Callable[[], ConsoleConfig],
        snapshot: Callable[[], dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
        every_s: float = 0.05,
    ) -> None:
        self.engine = engine
        self.config = config
        self.snapshot: Callable[[], dict[str, Any]] = snapshot or (lambda: {"instance": None})
        """The whole wallboard (set by the server that owns this feed)."""
        self.instance: Callable[[], dict[str, Any] | None] = lambda: None
        """This instance's name, role and epoch (set by the server that owns this feed)."""
        self.security: Security | None = None
        """Checks the streams' sessions again at push time (set by the server)."""
        self.today: DayFigures | None = None
        """Today's figures from the journal (set by the server that owns this feed)."""
        self.clock = clock
        self.every_s = every_s
        self.stats = FeedStats()
        self.clients: set[_Client] = set()
        self._dirty: dict[DeptId, float] = {}
        self._wake = asyncio.Event()
        self.agent_depts: Callable[[], dict[AgentId, list[str]]] = lambda: {}
        """Each agent's departments (set by the server: the backend's map, made once)."""

    # -- marks (dispatcher task, synchronous) ---------------------------------------------

    def on_decision(self, event: ev.Event, commands: list[Command]) -> None:
        """Mark the departments a decision touched (a dispatcher listener)."""
        if not self.clients:
            return
        now = self.engine.now
        dirty = self._dirty
        for cmd in commands:
            if isinstance(cmd, CallRecord):
                dirty.setdefault(cmd.dept, now)
            elif isinstance(cmd, AgentRecord):
                for dept in self.agent_depts().get(cmd.agent, ()):
                    dirty.setdefault(DeptId(dept), now)
            elif isinstance(cmd, RuleChanged):
                dirty.setdefault(cmd.dept, now)
        if isinstance(event, ev.CrisisModeSet) and event.dept in self.engine.depts:
            dirty.setdefault(event.dept, now)
        if dirty:
            self._wake.set()

    # -- the push task ---------------------------------------------------------------------

    async def run(self) -> None:
        """Push marked tiles as they come, and every tile each second, until cancelled."""
        last = last_full = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), REFRESH_S)
            self._wake.clear()
            if not self.clients:
                self._dirty.clear()
                continue
            wait = last + self.every_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # let a burst of decisions make one push
            last = time.monotonic()
            full = last - last_full >= REFRESH_S
            if full:
                last_full = last
            await self.push_once(full=full)

    async def push_once(self, *, full: bool = False) -> None:
        """Send the marked departments' tiles (all of them when ``full`` or none marked)."""
        dirty, self._dirty = self._dirty, {}
        now = self.clock()
        cfg = self.config()
        depts = list(self.engine.depts) if full or not dirty else list(dirty)
        tiles = [
            views.tile(self.engine, d, now, cfg, self.today).model_dump(mode="json") for d in depts
        ]
        at = min(dirty.values()) if dirty else None
        message: dict[str, Any] = {"type": "tiles", "at": at, "sent": now, "tiles": tiles}
        message["instance"] = self.instance()
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        await asyncio.gather(*(self._send(c, text) for c in list(self.clients)))
        self.stats.pushes += 1
        if at is not None:
            self.stats.last_push_lag_s = self.clock() - at

    async def _send(self, client: _Client, text: str) -> None:
        if not await self._still_allowed(client):
            self.clients.discard(client)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.ws.close(code=4401, message=b"session ended"), 1.0)
            return
        try:
            await asyncio.wait_for(client.ws.send_str(text), SEND_TIMEOUT_S)
        except (TimeoutError, ConnectionError, RuntimeError):
            self.stats.clients_closed_slow += 1
            self.clients.discard(client)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.ws.close(code=1013, message=b"too slow"), 1.0)

    async def _still_allowed(self, client: _Client) -> bool:
        """The stream's session still stands (logout, expiry, a removed user end it)."""
        now = time.monotonic()
        if self.security is None or now - client.checked < RECHECK_S:
            return True
        client.checked = now
        again = await self.security.identify(client.request)
        return again is not None and again.user == client.who.user

    def admits(self, who: Identity) -> bool:
        """Whether one more stream may open for this person's session."""
        if len(self.clients) >= STREAMS_MAX:
            return False
        if who.session is None:
            return True
        sid = who.session.id
        mine = sum(1 for c in self.clients if c.who.session is not None and c.who.session.id == sid)
        return mine < STREAMS_PER_SESSION

    # -- one socket ------------------------------------------------------------------------

    async def serve(
        self, request: web.Request, who: Identity, security: Security
    ) -> web.WebSocketResponse:
        """One page's socket: hello, the whole wallboard, then pushes until it closes."""
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
        await ws.prepare(request)
        hello = {"type": "hello", "user": who.user, "role": who.role.value}
        await ws.send_str(json.dumps(hello))
        await ws.send_str(json.dumps({"type": "wallboard", **self.snapshot()}, ensure_ascii=False))
        client = _Client(ws=ws, who=who, request=request, checked=time.monotonic())
        self.clients.add(client)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    break
                # Every message is checked against the session: a logout or an expiry ends
                # the stream at the next message (and at the latest with the heartbeat).
                again = await security.identify(request)
                if again is None or again.user != who.user:
                    await ws.close(code=4401, message=b"session ended")
                    break
                await ws.send_str(json.dumps(_answer(msg.data)))
        finally:
            self.clients.discard(client)
        return ws


def _answer(data: str) -> dict[str, Any]:
    """The stream is read-only: a ping gets a pong, anything else a refusal."""
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("type") == "ping":
        return {"type": "pong", "id": doc.get("id")}
    return {"type": "error", "slug": "unknown-message", "message": "the stream only takes pings"}
