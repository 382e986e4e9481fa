"""A bare AMI connection for the fake's tests: asyncio streams and the codec, nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections.abc import Callable
from pathlib import Path

from acd.ami.codec import AmiDecoder, encode_action
from acd.ami.frames import Frame

TRACES = Path(__file__).resolve().parents[2] / "data" / "asterisk-traces"
HAND_WRITTEN = Path(__file__).resolve().parents[2] / "data" / "ami"
_HEADER = re.compile(rb"### (?P<t>[0-9.]+) (?P<dir>RECV|SENT) (?P<n>\d+) bytes\n")
_NOTE = re.compile(rb"### NOTE [^\n]*\n")

Predicate = Callable[[Frame], bool]


class AmiConn:
    """One AMI session: every frame received is kept, in order, for the test to search."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = AmiDecoder()
        self.frames: list[Frame] = []
        self.eof = asyncio.Event()
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, port: int) -> AmiConn:
        """Connect to the fake on loopback."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await self.reader.read(65536):
                self.frames.extend(self.decoder.feed(data))
                self._changed.set()
        self.eof.set()
        self._changed.set()

    def send(self, name: str, *fields: tuple[str, str]) -> str:
        """Write an action; returns its ActionID."""
        action_id = f"t-{next(self._ids)}"
        self.writer.write(encode_action(name, list(fields), action_id))
        return action_id

    async def wait_for(self, predicate: Predicate, timeout: float = 3.0) -> Frame:
        """The first frame received (ever) that matches."""
        async with asyncio.timeout(timeout):
            seen = 0
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.frames)
                if self.eof.is_set():
                    raise AssertionError("connection closed before the frame came")
                self._changed.clear()
                await self._changed.wait()

    async def request(self, name: str, *fields: tuple[str, str], timeout: float = 3.0) -> Frame:
        """Send an action and wait for its response."""
        action_id = self.send(name, *fields)
        return await self.wait_for(lambda f: f.is_response and f.action_id == action_id, timeout)

    async def login(self, events: str = "on", secret: str = "change-me") -> Frame:
        """Plain-text Login as the contract's user."""
        fields = [("Username", "acd15"), ("Secret", secret), ("Events", events)]
        return await self.request("Login", *fields)

    def events(self, kind: str | None = None, user_event: str | None = None) -> list[Frame]:
        """Events received so far, by name and, for a UserEvent, by its name."""
        found = [f for f in self.frames if f.is_event]
        if kind is not None:
            found = [f for f in found if f.kind == kind]
        if user_event is not None:
            found = [f for f in found if f.kind == "UserEvent" and f.get("UserEvent") == user_event]
        return found

    async def user_event(
        self, name: str, uniqueid: str | None = None, timeout: float = 3.0
    ) -> Frame:
        """Wait for a contract UserEvent, of one channel if asked."""

        def match(f: Frame) -> bool:
            return (
                f.kind == "UserEvent"
                and f.get("UserEvent") == name
                and (uniqueid is None or f.get("Uniqueid") == uniqueid)
            )

        return await self.wait_for(match, timeout)

    async def close(self) -> None:
        """Close the connection and stop reading."""
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def trace_frames(name: str, folder: Path = TRACES) -> list[Frame]:
    """Every frame Asterisk sent in a recorded transcript, decoded by the codec."""
    raw = (folder / name).read_bytes()
    received = bytearray()
    position = 0
    while position < len(raw):
        note = _NOTE.match(raw, position)
        if note is not None:
            position = note.end()
            continue
        header = _HEADER.match(raw, position)
        if header is None:
            raise ValueError(f"{name}: no block header at byte {position}")
        position = header.end() + int(header["n"])
        if header["dir"] == b"RECV":
            received += raw[header.end() : position]
    return AmiDecoder().feed(bytes(received))


def keys(frame: Frame, *, drop_vars: bool = True) -> list[str]:
    """The frame's keys in wire order (``ChanVariable`` lines dropped: traces lack them)."""
    names = [key for key, _ in frame.fields]
    if drop_vars:
        names = [k for k in names if k not in ("ChanVariable", "DestChanVariable")]
    return names
