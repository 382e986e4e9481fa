"""A scripted AMI server for the client's tests: real TCP on 127.0.0.1, answers per a script.

Only what the client's tests need: a banner, Login (plain or MD5 challenge), Ping,
Logoff, list actions, scripted errors, silences and drops, and raw bytes on demand.
It records every action it receives, over every connection, so a test can prove that
an action was written exactly once. It is not the fake Asterisk of the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from acd.ami.actions import md5_key
from acd.ami.codec import AmiDecoder, encode_frame
from acd.ami.frames import Frame

Pairs = Sequence[tuple[str, str]]
BANNER = b"Asterisk Call Manager/9.0.0\r\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class ListAnswer:
    """The answer to a list action: ``EventList: start``, the items, then the end event."""

    items: tuple[Pairs, ...]
    complete_event: str
    # An unrelated event (no ActionID) sent between the first and the second item.
    interleaved: Pairs | None = None


@dataclass(slots=True, kw_only=True)
class Script:
    """What the server does; tests may change it between connections."""

    username: str = "acd"
    secret: str = "acdsecret"
    challenge: str = "842095762"
    refuse_login: bool = False
    login_fail_close_s: float = 1.0  # Asterisk sleeps a second, then closes
    fully_booted: bool = True
    errors: dict[str, str] = field(default_factory=dict)  # action -> Message of the Error
    silent: set[str] = field(default_factory=set)  # actions never answered
    drop_on: set[str] = field(default_factory=set)  # close the connection, no answer
    late: dict[str, float] = field(default_factory=dict)  # action -> answer delay (s)
    lists: dict[str, ListAnswer] = field(default_factory=dict)


@dataclass(slots=True)
class Connection:
    """One accepted client connection."""

    number: int
    writer: asyncio.StreamWriter
    answer_ping: bool = True
    logged_in: bool = False
    events_on: bool | None = None
    actions: list[Frame] = field(default_factory=list)


class ScriptedAmiServer:
    """An asyncio TCP server speaking just enough AMI, following a ``Script``."""

    def __init__(self, script: Script | None = None, *, tls: ssl.SSLContext | None = None) -> None:
        self.script = script if script is not None else Script()
        self._tls = tls
        self.actions: list[Frame] = []
        self.connections: list[Connection] = []
        self.connect_times: list[float] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def live(self) -> list[Connection]:
        """Connections still open."""
        return [c for c in self.connections if not c.writer.is_closing()]

    def received(self, action: str) -> list[Frame]:
        """Every action named ``action`` received so far, over every connection."""
        wanted = action.lower()
        return [f for f in self.actions if f.get("Action", "").lower() == wanted]

    async def start(self) -> ScriptedAmiServer:
        """Listen on 127.0.0.1, on a free port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self._tls)
        return self

    async def close(self) -> None:
        """Stop listening, close every connection and wait for their tasks."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for connection in self.connections:
            connection.writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drop(self) -> None:
        """Cut every live connection, as a crashed Asterisk would."""
        for connection in self.live:
            connection.writer.transport.abort()
        await asyncio.sleep(0)

    def mute_pings(self) -> None:
        """Live connections stop answering Ping (a frozen peer); new ones answer again."""
        for connection in self.live:
            connection.answer_ping = False

    async def send_raw(self, data: bytes, *, split_at: Sequence[int] = ()) -> None:
        """Write ``data`` to every live connection, in separate writes cut at ``split_at``."""
        cuts = [0, *split_at, len(data)]
        for start, end in itertools.pairwise(cuts):
            for connection in self.live:
                connection.writer.write(data[start:end])
                await connection.writer.drain()
            # Let the kernel deliver each piece on its own before the next one.
            await asyncio.sleep(0.02)

    async def send_event(self, *pairs: tuple[str, str]) -> None:
        """Write one event (``Event`` first) to every live connection."""
        await self.send_raw(encode_frame(pairs))

    # -- connection handling ------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        connection = Connection(number=len(self.connections) + 1, writer=writer)
        self.connections.append(connection)
        self.connect_times.append(time.monotonic())
        decoder = AmiDecoder(expect_banner=False)
        try:
            writer.write(BANNER)
            while not writer.is_closing():
                data = await reader.read(65536)
                if not data:
                    break
                for frame in decoder.feed(data):
                    self._answer(connection, frame)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()
            self._tasks.discard(task)

    def _answer(self, connection: Connection, action: Frame) -> None:
        self.actions.append(action)
        connection.actions.append(action)
        name = action.get("Action", "")
        key = name.lower()
        script = self.script
        action_id = action.get("ActionID", "")
        if key in {n.lower() for n in script.drop_on}:
            connection.writer.transport.abort()
            return
        if key in {n.lower() for n in script.silent}:
            return
        if key == "ping" and not connection.answer_ping:
            return
        frames = self._frames_for(connection, key, action, action_id)
        delay = {n.lower(): d for n, d in script.late.items()}.get(key)
        if delay is None:
            self._write(connection, frames)
        else:
            self._spawn(self._write_later(connection, frames, delay))
        if key == "logoff":
            connection.writer.close()
        elif key == "login" and not connection.logged_in:
            self._spawn(self._close_later(connection, script.login_fail_close_s))

    def _frames_for(
        self, connection: Connection, key: str, action: Frame, action_id: str
    ) -> list[Pairs]:
        script = self.script
        errors = {n.lower(): m for n, m in script.errors.items()}
        lists = {n.lower(): answer for n, answer in script.lists.items()}
        if key == "challenge":
            return [_success(action_id, ("Challenge", script.challenge))]
        if key == "login":
            return self._login(connection, action, action_id)
        if key == "logoff":
            return [
                (
                    ("Response", "Goodbye"),
                    ("ActionID", action_id),
                    ("Message", "Thanks for all the fish."),
                )
            ]
        if key in errors:
            return [(("Response", "Error"), ("ActionID", action_id), ("Message", errors[key]))]
        if key == "ping":
            return [_success(action_id, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))]
        if key in lists:
            return _list_frames(lists[key], action_id)
        return [_success(action_id, ("Message", f"{action.get('Action')} done"))]

    def _login(self, connection: Connection, action: Frame, action_id: str) -> list[Pairs]:
        script = self.script
        if action.get("AuthType", "").lower() == "md5":
            good = action.get("Key") == md5_key(script.challenge, script.secret)
        else:
            good = action.get("Secret") == script.secret
        if script.refuse_login or not good or action.get("Username") != script.username:
            return [
                (
                    ("Response", "Error"),
                    ("ActionID", action_id),
                    ("Message", "Authentication failed"),
                )
            ]
        connection.logged_in = True
        events = action.get("Events")
        connection.events_on = None if events is None else events.lower() != "off"
        frames = [_success(action_id, ("Message", "Authentication accepted"))]
        if script.fully_booted and connection.events_on is not False:
            frames.append(
                (
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", "87"),
                    ("LastReload", "87"),
                    ("Status", "Fully Booted"),
                )
            )
        return frames

    def _write(self, connection: Connection, frames: list[Pairs]) -> None:
        if not connection.writer.is_closing():
            # One write for the whole answer: Asterisk often packs several frames per read.
            connection.writer.write(b"".join(encode_frame(pairs) for pairs in frames))

    async def _write_later(self, connection: Connection, frames: list[Pairs], delay: float) -> None:
        await asyncio.sleep(delay)
        self._write(connection, frames)

    async def _close_later(self, connection: Connection, delay: float) -> None:
        await asyncio.sleep(delay)
        connection.writer.transport.abort()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _success(action_id: str, *extra: tuple[str, str]) -> Pairs:
    return (("Response", "Success"), ("ActionID", action_id), *extra)


def _list_frames(answer: ListAnswer, action_id: str) -> list[Pairs]:
    frames: list[Pairs] = [
        _success(action_id, ("EventList", "start"), ("Message", "Channels will follow"))
    ]
    for position, item in enumerate(answer.items):
        if position == 1 and answer.interleaved is not None:
            frames.append(answer.interleaved)
        event, *rest = item
        frames.append((event, ("ActionID", action_id), *rest))
    frames.append(
        (
            ("Event", answer.complete_event),
            ("ActionID", action_id),
            ("EventList", "Complete"),
            ("ListItems", str(len(answer.items))),
        )
    )
    return frames


async def wait_for(
    predicate: Callable[[], bool], *, timeout: float = 2.0, what: str = "condition"
) -> None:
    """Poll ``predicate()`` every 10 ms until true; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)
