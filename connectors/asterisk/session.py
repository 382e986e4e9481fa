"""One AMI TCP session: reads without ever waiting on a consumer, correlates, never replays.

A session is the life of one connection. Its actions are failed with
``AmiConnectionLost`` when it ends and are forgotten with it: nothing written on a
session is ever written again on another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Literal

from acd.ami import actions
from acd.ami.actions import Action
from acd.ami.codec import AmiDecoder
from acd.ami.correlate import ActionIdGenerator, ActionTracker, Completion
from acd.ami.errors import AmiActionTimeout, AmiConnectionLost, AmiLoginFailed
from acd.ami.frames import Frame

log = logging.getLogger(__name__)

AuthMethod = Literal["md5", "plain"]

READ_SIZE = 64 * 1024
# The kernel's dead-peer detection, behind the Ping/Pong one: about 11 s of silence.
KEEPALIVE_IDLE_S = 5
KEEPALIVE_INTERVAL_S = 2
KEEPALIVE_COUNT = 3
_CLOSE_WAIT_S = 1.0


def enable_keepalive(
    sock: object,
    *,
    idle_s: int = KEEPALIVE_IDLE_S,
    interval_s: int = KEEPALIVE_INTERVAL_S,
    count: int = KEEPALIVE_COUNT,
) -> bool:
    """Turn TCP keepalive on (idle, interval and count where the platform has them)."""
    setsockopt = getattr(sock, "setsockopt", None)
    if setsockopt is None:
        return False
    try:
        setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (
            ("TCP_KEEPIDLE", idle_s),
            ("TCP_KEEPINTVL", interval_s),
            ("TCP_KEEPCNT", count),
        ):
            option = getattr(socket, name, None)
            if option is not None:
                setsockopt(socket.IPPROTO_TCP, option, value)
    except OSError as exc:
        log.warning("could not enable TCP keepalive: %s", exc)
        return False
    return True


def _named(batch: Sequence[Action], ids: Sequence[str]) -> str:
    """``Getvar acd-1-7`` for one action, ``Setvar+Redirect acd-1-8..`` for a batch."""
    return f"{'+'.join(a.name for a in batch)} {ids[0]}{'..' if len(ids) > 1 else ''}"


class AmiSession:
    """One connection to one Asterisk: a reader task's target, and a request/response door.

    Events that no pending action claims go to ``on_event`` synchronously, from the
    reader; that callback must not block (the client queues them). ``closed`` is set
    once, by ``abort``, with ``reason`` saying why; ``login_done`` is set when the login
    succeeded (``logged_in``) or the session ended before it could.
    """

    def __init__(
        self,
        *,
        name: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        ids: ActionIdGenerator,
        on_event: Callable[[Frame], None],
        max_frame_bytes: int,
    ) -> None:
        self.name = name
        self._reader = reader
        self._writer = writer
        self._ids = ids
        self._on_event = on_event
        self.decoder = AmiDecoder(max_frame_bytes=max_frame_bytes)
        self._tracker = ActionTracker()
        self._futures: dict[str, asyncio.Future[Completion]] = {}
        self._lists: set[str] = set()
        """Pending list actions (CoreShowChannels...): only their items are events with IDs."""
        self.closed = asyncio.Event()
        self.login_done = asyncio.Event()
        self.logged_in = False
        self.reason = ""
        self._reason_override: str | None = None
        self.keepalive = enable_keepalive(writer.get_extra_info("socket"))
        self.stray_responses = 0
        self.last_pong: float | None = None

    @classmethod
    async def connect(
        cls,
        *,
        name: str,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        timeout_s: float,
        ids: ActionIdGenerator,
        on_event: Callable[[Frame], None],
        max_frame_bytes: int,
    ) -> AmiSession:
        """Open the TCP (or TLS) connection; ``OSError`` or ``TimeoutError`` if it fails."""
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port, ssl=tls, limit=READ_SIZE)
        return cls(
            name=name,
            reader=reader,
            writer=writer,
            ids=ids,
            on_event=on_event,
            max_frame_bytes=max_frame_bytes,
        )

    @property
    def is_closed(self) -> bool:
        """Whether the session ended (its actions failed, its transport aborted)."""
        return self.closed.is_set()

    @property
    def in_flight(self) -> int:
        """Actions written (or being written) and not answered yet."""
        return len(self._futures)

    @property
    def bad_frames(self) -> int:
        """Malformed and oversized frames the decoder skipped on this session."""
        return self.decoder.bad_frames + self.decoder.oversized_frames

    def expect_close(self, reason: str) -> None:
        """We are ending the session on purpose (Logoff): say so, whoever notices the end."""
        self._reason_override = reason

    def last_pong_age_s(self, now: float) -> float | None:
        """Seconds since the last Pong of this session (monotonic clock), None before one."""
        return None if self.last_pong is None else now - self.last_pong

    async def login(
        self, *, username: str, secret: str, auth: AuthMethod, events: bool, timeout_s: float
    ) -> None:
        """Log in (MD5 challenge or plain secret); ``AmiLoginFailed`` if refused.

        On a refusal Asterisk sleeps a second before closing; the session is aborted at
        once instead. Afterwards the application's actions may be sent.
        """
        if auth == "md5":
            answer = await self.request(actions.challenge(), timeout=timeout_s)
            challenge = answer.response.get("Challenge")
            if not answer.ok or not challenge:
                self.abort("MD5 challenge refused")
                raise AmiLoginFailed(
                    f"{self.name}: MD5 challenge refused: {answer.message or 'no challenge'}"
                )
            login = actions.login_md5(username, secret, challenge, events=events)
        else:
            login = actions.login(username, secret, events=events)
        answer = await self.request(login, timeout=timeout_s)
        if not answer.ok:
            self.abort("login refused")
            raise AmiLoginFailed(
                f"{self.name}: login refused for user {username!r}: "
                f"{answer.message or 'no reason given'}"
            )
        self.logged_in = True
        self.login_done.set()

    async def keep_alive(self, *, interval_s: float, timeout_s: float) -> None:
        """Ping every ``interval_s``; no Pong within ``timeout_s`` ends the session."""
        while not self.closed.is_set():
            await asyncio.sleep(interval_s)
            try:
                answer = await self.request(actions.ping(), timeout=timeout_s)
            except AmiActionTimeout:
                log.warning("%s: no Pong within %g s: AMI peer declared dead", self.name, timeout_s)
                self.abort(f"no pong within {timeout_s:g} s")
                return
            except AmiConnectionLost:
                return
            if not answer.ok:
                self.abort(f"ping refused: {answer.message}")
                return
            self.last_pong = time.monotonic()

    async def request(self, action: Action, *, timeout: float) -> Completion:
        """Write ``action`` once and wait for its whole answer (a list action: every item).

        ``Response: Error`` is an answer: it comes back as a completion whose ``ok`` is
        false. ``AmiActionTimeout`` if the answer misses ``timeout`` (a late answer is
        ignored); ``AmiConnectionLost`` if the session is or goes down first.
        """
        (answer,) = await self.request_all((action,), timeout=timeout)
        return answer

    async def request_all(self, batch: Sequence[Action], *, timeout: float) -> list[Completion]:
        """Write the actions of ``batch`` in one write, in order; their answers, in order.

        Asterisk runs a session's actions in the order it reads them, so a batch keeps
        the order of ``request`` awaited one by one, without a turn of the loop or a
        system call per action. The answers and failures are those of ``request``; the
        session's end or the timeout fails the whole batch, never written again.
        """
        if self.closed.is_set():
            raise AmiConnectionLost(f"{self.name}: not connected ({self.reason})")
        if not batch:
            return []
        ids = [self._ids.next_id() for _ in batch]
        data = b"".join([action.encode(aid) for action, aid in zip(batch, ids, strict=True)])
        futures = [self._expect(aid, action) for action, aid in zip(batch, ids, strict=True)]
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(data)
                await self._writer.drain()
                return [await future for future in futures]
        except TimeoutError:
            raise AmiActionTimeout(
                f"{self.name}: no answer to {_named(batch, ids)} within {timeout:g} s"
            ) from None
        except OSError as exc:
            self.abort(f"write failed: {exc}")
            raise AmiConnectionLost(
                f"{self.name}: {_named(batch, ids)} outcome unknown, write failed: {exc}"
            ) from exc
        finally:
            for action_id, future in zip(ids, futures, strict=True):
                self._forget(action_id, future)

    def _expect(self, action_id: str, action: Action) -> asyncio.Future[Completion]:
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._tracker.register(action_id, expects_list=action.expects_list)
        self._futures[action_id] = future
        if action.expects_list:
            self._lists.add(action_id)
        return future

    def _forget(self, action_id: str, future: asyncio.Future[Completion]) -> None:
        self._futures.pop(action_id, None)
        self._tracker.discard(action_id)
        self._lists.discard(action_id)
        if future.done() and not future.cancelled():
            # Failed by the session's end, and perhaps not the one raised: mark it seen.
            future.exception()

    async def read_loop(self) -> None:
        """Read until the peer closes or the session is aborted; frames are dispatched inline."""
        try:
            while True:
                data = await self._reader.read(READ_SIZE)
                if not data:
                    self.abort("connection closed by the peer")
                    return
                for frame in self.decoder.feed(data):
                    self._dispatch(frame)
        except OSError as exc:
            self.abort(f"read failed: {exc}")
        except Exception as exc:
            # A bug here must end the session loudly, not leave it deaf until the Ping fails.
            log.exception("%s: AMI reader failed", self.name)
            self.abort(f"reader failed: {exc!r}")

    def _dispatch(self, frame: Frame) -> None:
        # Asterisk gives an event an ActionID only as an item of a list answer: with no
        # list pending, an event is not searched for one. The search indexes every line
        # of the frame, which was a fifth of the client's time at 10,000 events/s.
        if self._lists or not frame.lines[0].startswith("Event: "):
            action_id = frame.action_id
            if action_id is not None and action_id in self._tracker:
                completion = self._tracker.on_frame(frame)
                if completion is not None:
                    future = self._futures.get(completion.action_id)
                    if future is not None and not future.done():
                        future.set_result(completion)
                return
        if frame.is_event:
            self._on_event(frame)
        else:
            # The answer to an action that timed out, or to another client's ActionID.
            self.stray_responses += 1

    def abort(self, reason: str) -> None:
        """End the session now: fail every pending action, drop the transport. Idempotent."""
        if self.closed.is_set():
            return
        reason = self._reason_override or reason
        self.reason = reason
        self.closed.set()
        self.login_done.set()
        self._tracker.fail_all(reason)
        for action_id, future in list(self._futures.items()):
            if not future.done():
                future.set_exception(
                    AmiConnectionLost(
                        f"{self.name}: session lost ({reason}); "
                        f"action {action_id} outcome unknown, not replayed"
                    )
                )
        self._writer.transport.abort()

    async def wait_transport_closed(self) -> None:
        """Wait (briefly) until the transport is really closed, so no socket leaks."""
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(_CLOSE_WAIT_S):
                await self._writer.wait_closed()
