"""One AMI TCP session of the fake: login, its own event mask, the actions, all logged."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Protocol

from acd.ami.actions import md5_key
from acd.ami.codec import AmiDecoder, encode_frame
from acd.ami.frames import Frame
from connectors.asterisk.fake import events as ev
from connectors.asterisk.fake.actions import ALL_CLASSES, Reply, dispatch, event_mask
from connectors.asterisk.fake.config import FakeConfig
from connectors.asterisk.fake.faults import CutPoint
from connectors.asterisk.fake.pbx import FakePbx

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
_HIDDEN = frozenset({"secret", "key"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRecord:
    """One action a session received, and how the fake answered it."""

    session: int
    at: float
    epoch: float
    name: str
    fields: tuple[tuple[str, str], ...]
    action_id: str | None
    response: str
    message: str
    cut: str = ""
    """The ``CutPoint`` at which the link was cut on this action, if it was."""

    def get(self, key: str, default: str = "") -> str:
        """The first value of a field of the action (any case)."""
        wanted = key.lower()
        return next((v for k, v in self.fields if k.lower() == wanted), default)


class Host(Protocol):
    """What a session needs from the server that accepted it."""

    config: FakeConfig
    events_paused: bool
    responses_paused: bool

    @property
    def pbx(self) -> FakePbx:
        """The PBX the actions act on."""

    def record(self, record: ActionRecord) -> None:
        """Keep an action in the log."""

    def loop_time(self) -> float:
        """The loop clock."""

    def uptime(self) -> int:
        """Seconds since the PBX (re)started."""

    def broadcast(self, fields: ev.Fields) -> None:
        """Send an event to every session that may read it."""

    def take_cut(self, name: str, frame: Frame) -> CutPoint | None:
        """Where to cut the link at this action, if an armed cut matches it (it fires)."""


def _matches(name: str, pattern: str) -> bool:
    return name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern


class AmiSession:
    """A connection: the banner, then actions in order, and the events its mask lets through."""

    def __init__(self, host: Host, sid: int, writer: asyncio.StreamWriter) -> None:
        self.host = host
        self.sid = sid
        self.writer = writer
        self.decoder = AmiDecoder(expect_banner=False)
        self.authenticated = False
        self.username = ""
        self.mask: frozenset[str] = frozenset()
        self.challenge: str | None = None
        self.closing = False
        self.held: list[tuple[bool, bytes]] = []
        read = {c.strip().lower() for c in host.config.read}
        self.readable = ALL_CLASSES if "all" in read else frozenset(read)

    # --- output ---------------------------------------------------------------------
    def write(self, data: bytes, *, event: bool) -> None:
        """Write now, or hold while the stream is paused; cut a reader that fell behind."""
        if self.closing or self.writer.transport.is_closing():
            return
        host = self.host
        if (event and host.events_paused) or (not event and host.responses_paused):
            self.held.append((event, data))
            return
        self.writer.write(data)
        transport = self.writer.transport
        if transport.get_write_buffer_size() > host.config.max_write_buffer:
            # Asterisk drops a session whose writes block longer than writetimeout.
            self.abort()

    def flush_held(self) -> None:
        """The stream resumed: write what was held, in order."""
        held, self.held = self.held, []
        for event, data in held:
            self.write(data, event=event)

    def send(self, fields: ev.Fields, *, event: bool = False) -> None:
        """Encode and write one message."""
        self.write(encode_frame(fields), event=event)

    def deliver(self, name: str, privilege: str, data: bytes) -> None:
        """A broadcast event: written if logged in and the class and the filter allow it."""
        if not self.authenticated:
            return
        event_class = privilege.partition(",")[0]
        if event_class not in self.mask or event_class not in self.readable:
            return
        if any(_matches(name, pattern) for pattern in self.host.config.event_filter):
            return
        self.write(data, event=True)

    def abort(self) -> None:
        """Cut the connection at once."""
        self.closing = True
        self.writer.transport.abort()

    def close(self) -> None:
        """Close after what is buffered."""
        self.closing = True
        self.writer.close()

    # --- input ----------------------------------------------------------------------
    async def run(self, reader: asyncio.StreamReader) -> None:
        """Serve the connection until EOF, Logoff, a failed login or a cut."""
        self.writer.write(BANNER)
        try:
            while not self.closing:
                data = await reader.read(65536)
                if not data:
                    break
                for frame in self.decoder.feed(data):
                    if self.closing or not await self.handle(frame):
                        break
        except (ConnectionError, OSError):
            pass
        finally:
            self.closing = True
            self.writer.close()

    async def handle(self, frame: Frame) -> bool:
        """Answer one action; False when the session must end."""
        name = frame.get("Action", "")
        action_id = frame.action_id
        cut = self.host.take_cut(name, frame)
        if cut is CutPoint.BEFORE_APPLY:
            reply = Reply(status="", message="link cut before the action took effect")
        else:
            if cut is not None:
                self.closing = True  # mutes the session: the answer is lost with the link
            reply = await dispatch(self, name.lower(), frame, action_id)
        self.host.record(
            ActionRecord(
                session=self.sid,
                at=self.host.loop_time(),
                epoch=self.host.pbx.st.clock.epoch(),
                name=name,
                fields=tuple(
                    (k, "***" if k.lower() in _HIDDEN else v)
                    for k, v in frame.fields
                    if k.lower() not in ("action", "actionid")
                ),
                action_id=action_id,
                response=reply.status,
                message=reply.message,
                cut="" if cut is None else str(cut),
            )
        )
        if cut is not None:
            self.abort()
            return False
        if reply.close_after:
            self.close()
            return False
        return True

    def login_ok(self, username: str, events: str) -> None:
        """Logged in: the mask applies from now on; FullyBooted if ``system`` is readable."""
        self.authenticated = True
        self.username = username
        self.mask = event_mask(events)
        if "system" in self.mask and "system" in self.readable:
            self.send(ev.fully_booted(self.host.uptime()), event=True)

    def new_challenge(self) -> str:
        """A fresh MD5 challenge (9 digits, like Asterisk's)."""
        self.challenge = f"{secrets.randbelow(10**9):09d}"
        return self.challenge

    def check_key(self, key: str) -> bool:
        """Whether ``key`` is the MD5 of this session's challenge and the secret."""
        if self.challenge is None:
            return False
        return secrets.compare_digest(key, md5_key(self.challenge, self.host.config.secret))
