"""The asyncio AMI client: one session at a time to one Asterisk, resynced at every login.

Rules it keeps, whatever happens on the wire:

- an action is written once, on one session; if that session ends first, the caller
  gets ``AmiConnectionLost`` and the action is never written again;
- ``Response: Error`` is an answer, not an exception: ``send`` returns the completion
  with ``ok`` false (``require_ok`` turns it into ``AmiActionFailed`` where wanted);
- the reader never waits for the consumer: events go to a bounded queue, and when it is
  full they are dropped, counted, and a resync is scheduled;
- one consumer task delivers events in arrival order; a handler that raises is logged
  and skipped;
- ``on_connected`` (the resync hook) runs on the consumer task, after every event of
  earlier sessions and before any event of the new one, so events that arrive while it
  resyncs wait for it; it runs again at the point where events were dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from acd.ami import actions
from acd.ami.actions import Action
from acd.ami.codec import DEFAULT_MAX_FRAME_BYTES
from acd.ami.correlate import ActionIdGenerator, Completion
from acd.ami.errors import (
    AmiActionFailed,
    AmiConnectionLost,
    AmiError,
    AmiLoginFailed,
)
from acd.ami.frames import Frame
from connectors.asterisk.backoff import DEFAULT_MAX_S, DEFAULT_MIN_S, Backoff
from connectors.asterisk.delivery import EventDelivery, FrameHandler
from connectors.asterisk.session import AmiSession, AuthMethod
from connectors.asterisk.stats import AmiClientStats

log = logging.getLogger(__name__)

ConnectedHook = Callable[[], Awaitable[None]]
DisconnectedHook = Callable[[str], None]

DEFAULT_PORT = 5038
_LOGOFF_TIMEOUT_S = 1.0


def require_ok(completion: Completion) -> Completion:
    """The completion itself if Asterisk accepted the action, else ``AmiActionFailed``."""
    if not completion.ok:
        raise AmiActionFailed(completion.message or f"{completion.response.kind} without reason")
    return completion


@dataclass(frozen=True, slots=True)
class _Resync:
    """A point in the event order where ``on_connected`` runs (after a login or an overflow)."""

    session: AmiSession
    after_login: bool


class AmiClient:
    """One AMI session to one Asterisk, kept up: login, Ping/Pong, backoff, resync hook.

    ``logged_in`` (and ``wait_logged_in``) mean "logged in and ``on_connected`` returned":
    the session is synchronised. ``send`` works as soon as the login succeeded, so
    ``on_connected`` itself can send its resync actions.
    """

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int = DEFAULT_PORT,
        username: str,
        secret: str,
        auth: AuthMethod = "md5",
        tls: ssl.SSLContext | None = None,
        events: bool = True,
        ping_interval_s: float = 2.0,
        pong_timeout_s: float = 3.0,
        action_timeout_s: float = 5.0,
        connect_timeout_s: float = 5.0,
        backoff_min_s: float = DEFAULT_MIN_S,
        backoff_max_s: float = DEFAULT_MAX_S,
        rng: random.Random | None = None,
        queue_size: int = 10_000,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        action_id_prefix: str,
        on_frame: FrameHandler | None = None,
        on_connected: ConnectedHook | None = None,
        on_disconnected: DisconnectedHook | None = None,
    ) -> None:
        if auth not in ("md5", "plain"):
            raise ValueError(f"auth must be 'md5' or 'plain', got {auth!r}")
        for label, value in (
            ("ping_interval_s", ping_interval_s),
            ("pong_timeout_s", pong_timeout_s),
            ("action_timeout_s", action_timeout_s),
            ("connect_timeout_s", connect_timeout_s),
        ):
            if value <= 0:
                raise ValueError(f"{label} must be positive, got {value}")
        self.name = name
        self.host = host
        self.port = port
        self._username = username
        self._secret = secret
        self._auth = auth
        self._tls = tls
        self._events = events
        self._ping_interval_s = ping_interval_s
        self._pong_timeout_s = pong_timeout_s
        self._action_timeout_s = action_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._max_frame_bytes = max_frame_bytes
        self._backoff = Backoff(min_s=backoff_min_s, max_s=backoff_max_s, rng=rng)
        self._ids = ActionIdGenerator(action_id_prefix)
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._delivery: EventDelivery[_Resync] = EventDelivery(
            name=name, maxsize=queue_size, on_frame=on_frame, on_marker=self._resync
        )

        self._session: AmiSession | None = None
        self._runner: asyncio.Task[None] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._closing = False
        self._ready = False
        self._waiters: list[asyncio.Future[None]] = []
        self._login_error: AmiLoginFailed | None = None
        self._last_error = "not connected yet"

        self._ever_logged_in = False
        self._reconnects = 0
        self._connect_failures = 0
        self._login_failures = 0
        self._past_bad_frames = 0
        self._past_oversized = 0
        self._past_unmatched = 0
        self._hook_failures = 0
        self._retry_delay_s: float | None = None

    # -- public API ---------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        """Logged in and resynchronised (``on_connected`` returned) on a live session."""
        session = self._session
        return self._ready and session is not None and not session.is_closed

    async def start(self) -> None:
        """Start the connection loop and the event consumer; returns at once."""
        if self._closing:
            raise RuntimeError(f"AMI client {self.name} was closed; make a new one")
        if self._runner is not None:
            return
        self._consumer = asyncio.create_task(self._delivery.run(), name=f"ami-{self.name}-consumer")
        self._runner = asyncio.create_task(self._run(), name=f"ami-{self.name}-connection")

    async def wait_logged_in(self, timeout: float | None = None) -> None:
        """Wait until ``logged_in``.

        ``AmiLoginFailed`` if the latest login was refused (until a later one succeeds),
        ``TimeoutError`` after ``timeout``, ``AmiConnectionLost`` if the client is closed.
        """
        if self.logged_in:
            return
        if self._closing:
            raise AmiConnectionLost(f"{self.name}: client closed")
        if self._login_error is not None:
            raise AmiLoginFailed(self._login_error.message)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            raise TimeoutError(
                f"{self.name}: not logged in within {timeout} s (last error: {self._last_error})"
            ) from None
        finally:
            self._waiters.remove(future)

    async def send(self, action: Action, *, timeout: float | None = None) -> Completion:
        """Write ``action`` once and return its whole answer, ``ok`` or not.

        ``AmiConnectionLost`` if no session is logged in (nothing is written) or if the
        session ends before the answer (the outcome is unknown: never replayed).
        ``AmiActionTimeout`` after ``timeout`` (default ``action_timeout_s``); a late
        answer is then ignored.
        """
        (answer,) = await self.send_all((action,), timeout=timeout)
        return answer

    async def send_all(
        self, batch: Sequence[Action], *, timeout: float | None = None
    ) -> list[Completion]:
        """Write the actions of ``batch`` in one write, in order, on one session; every answer.

        The rules of ``send`` hold for the batch as a whole: written once, never
        replayed; a lost session or the timeout fails all of it.
        """
        session = self._session
        if self._closing or session is None or not session.logged_in or session.is_closed:
            names = "+".join(action.name for action in batch)
            raise AmiConnectionLost(f"{self.name}: not connected; {names} not sent")
        limit = self._action_timeout_s if timeout is None else timeout
        return await session.request_all(batch, timeout=limit)

    def set_action_id_prefix(self, prefix: str) -> None:
        """ActionIDs from now on start with ``prefix`` (a takeover puts its epoch there)."""
        self._ids.prefix = ActionIdGenerator(prefix).prefix  # validated like the first one

    async def close(self) -> None:
        """Log off if logged in, stop every task; queued events are not delivered. Idempotent."""
        if self._closing:
            return
        self._closing = True
        session = self._session
        if session is not None and session.logged_in and not session.is_closed:
            session.expect_close("client closed")
            with contextlib.suppress(AmiError):
                await session.request(
                    actions.logoff(), timeout=min(self._action_timeout_s, _LOGOFF_TIMEOUT_S)
                )
            session.abort("client closed")
        # Called from a handler, the consumer cannot wait for itself: it is cancelled last
        # and stops at its next await.
        current = asyncio.current_task()
        tasks = [t for t in (self._runner, self._consumer) if t is not None and t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._fail_waiters(AmiConnectionLost(f"{self.name}: client closed"))
        if current is not None and current is self._consumer:
            current.cancel()

    def stats(self) -> AmiClientStats:
        """The client's counters and gauges, now."""
        session = self._session
        delivery = self._delivery
        now = time.monotonic()
        live = session is not None and not session.is_closed
        return AmiClientStats(
            name=self.name,
            connected=live,
            logged_in=self.logged_in,
            reconnects=self._reconnects,
            connect_failures=self._connect_failures,
            login_failures=self._login_failures,
            bad_frames=self._past_bad_frames + (session.bad_frames if session else 0),
            oversized_frames=self._past_oversized
            + (session.decoder.oversized_frames if session else 0),
            events_received=delivery.received,
            events_dropped=delivery.dropped,
            handler_errors=delivery.handler_errors + self._hook_failures,
            resync_needed=delivery.resync_needed,
            queue_depth=delivery.depth,
            consumer_lag_s=delivery.lag_s(),
            last_pong_age_s=session.last_pong_age_s(now) if session else None,
            actions_in_flight=session.in_flight if session else 0,
            unmatched_responses=self._past_unmatched + (session.stray_responses if session else 0),
            retry_delay_s=self._retry_delay_s,
            keepalive=live and session is not None and session.keepalive,
        )

    # -- connection loop ----------------------------------------------------------------

    def _stopping(self) -> bool:
        return self._closing

    async def _run(self) -> None:
        while not self._stopping():
            try:
                await self._session_once()
            except AmiLoginFailed as exc:
                self._login_failures += 1
                self._login_error = exc
                self._last_error = exc.message
                log.error("%s", exc.message)
                self._fail_waiters(exc)
            except (OSError, AmiError) as exc:
                self._connect_failures += 1
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "%s: cannot reach AMI at %s:%s: %s", self.name, self.host, self.port, exc
                )
            except Exception as exc:
                # A bug must not end the connection loop: log it, back off, try again.
                self._connect_failures += 1
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.exception("%s: unexpected error in the AMI session", self.name)
            if self._stopping():
                return
            delay = self._backoff.next_delay()
            self._retry_delay_s = delay
            log.info("%s: next AMI connection attempt in %.2f s", self.name, delay)
            await asyncio.sleep(delay)

    async def _session_once(self) -> None:
        session = await AmiSession.connect(
            name=self.name,
            host=self.host,
            port=self.port,
            tls=self._tls,
            timeout_s=self._connect_timeout_s,
            ids=self._ids,
            on_event=self._on_event,
            max_frame_bytes=self._max_frame_bytes,
        )
        self._session = session
        # Queued before the login is sent: every frame of this session comes after it.
        self._delivery.put_marker(_Resync(session=session, after_login=True))
        reader = asyncio.create_task(session.read_loop(), name=f"ami-{self.name}-reader")
        pinger: asyncio.Task[None] | None = None
        try:
            await session.login(
                username=self._username,
                secret=self._secret,
                auth=self._auth,
                events=self._events,
                timeout_s=self._action_timeout_s,
            )
            self._login_error = None
            if self._ever_logged_in:
                self._reconnects += 1
            self._ever_logged_in = True
            log.info("%s: logged in to AMI at %s:%s", self.name, self.host, self.port)
            pinger = asyncio.create_task(
                session.keep_alive(
                    interval_s=self._ping_interval_s, timeout_s=self._pong_timeout_s
                ),
                name=f"ami-{self.name}-ping",
            )
            await session.closed.wait()
        finally:
            session.abort("client closed" if self._closing else "session ended")
            self._ready = False
            for task in (reader, pinger):
                if task is not None:
                    task.cancel()
            await asyncio.gather(*[t for t in (reader, pinger) if t], return_exceptions=True)
            await session.wait_transport_closed()
            self._past_bad_frames += session.bad_frames
            self._past_oversized += session.decoder.oversized_frames
            self._past_unmatched += session.stray_responses
            self._session = None
            if session.logged_in:
                self._last_error = session.reason
                log.warning("%s: AMI session lost: %s", self.name, session.reason)
                self._notify_disconnected(session.reason)

    def _notify_disconnected(self, reason: str) -> None:
        if self._on_disconnected is None:
            return
        try:
            self._on_disconnected(reason)
        except Exception:
            log.exception("%s: on_disconnected failed", self.name)

    def _fail_waiters(self, error: AmiError) -> None:
        for future in self._waiters:
            if not future.done():
                future.set_exception(type(error)(error.message))

    # -- events and resync ---------------------------------------------------------------

    def _on_event(self, frame: Frame) -> None:
        """Called by the reader for each event: queue it, or drop it; never wait."""
        session = self._session
        if self._delivery.offer(frame) and session is not None:
            self._delivery.put_marker(_Resync(session=session, after_login=False))

    async def _resync(self, marker: _Resync) -> None:
        """Run on the consumer task when it reaches a resync point."""
        session = marker.session
        if marker.after_login:
            await session.login_done.wait()
        if session.is_closed or not session.logged_in:
            return  # that session is gone; the next login has its own marker
        hook = self._on_connected
        if hook is not None:
            dropped_before = self._delivery.dropped
            try:
                await hook()
            except Exception as exc:
                # A failed resync leaves the state unknown: start over on a new session.
                self._hook_failures += 1
                log.exception("%s: on_connected failed; dropping the session", self.name)
                session.abort(f"on_connected failed: {exc!r}")
                return
            self._delivery.resynced(dropped_before)
        if marker.after_login and session is self._session and not session.is_closed:
            self._ready = True
            self._backoff.reset()
            for future in self._waiters:
                if not future.done():
                    future.set_result(None)
