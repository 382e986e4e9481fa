"""Event delivery: the reader offers, one consumer task delivers in order; nothing blocks reading.

A handler that raises is logged and skipped. When the queue is full an event is dropped
and counted, and a resync point is queued behind everything kept: the resync hook then
runs after the dropped events, so the snapshot it takes covers them.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from acd.ami.frames import Frame
from connectors.asterisk.queue import EventQueue

log = logging.getLogger(__name__)

M = TypeVar("M")
FrameHandler = Callable[[Frame], Awaitable[None] | None]


class EventDelivery(Generic[M]):
    """The bounded queue of one client, its consumer loop and its counters."""

    def __init__(
        self,
        *,
        name: str,
        maxsize: int,
        on_frame: FrameHandler | None,
        on_marker: Callable[[M], Awaitable[None]],
    ) -> None:
        self.name = name
        self._queue: EventQueue[M] = EventQueue(maxsize)
        self._on_frame = on_frame
        self._on_marker = on_marker
        self.received = 0
        self.dropped = 0
        self.handler_errors = 0
        self.resync_needed = False
        self._overflowing = False
        self._marker_pending = False

    @property
    def depth(self) -> int:
        """Events waiting for the consumer."""
        return self._queue.depth

    def lag_s(self) -> float:
        """How long the oldest waiting event has waited."""
        return self._queue.oldest_frame_age(time.monotonic())

    def offer(self, frame: Frame) -> bool:
        """Queue one event without waiting; True when a resync point must be queued now."""
        self.received += 1
        if self._on_frame is None:
            return False
        now = time.monotonic()
        if self._queue.put_frame(frame, now):
            self._overflowing = False
            return False
        self.dropped += 1
        self.resync_needed = True
        if not self._overflowing:
            self._overflowing = True
            log.error(
                "%s: event queue full (%d waiting, oldest %.2f s): dropping AMI events, "
                "state will be resynchronised",
                self.name,
                self._queue.depth,
                self._queue.oldest_frame_age(now),
            )
        return not self._marker_pending

    def put_marker(self, marker: M) -> None:
        """Queue a resync point behind every event queued so far."""
        self._queue.put_marker(marker, time.monotonic())
        self._marker_pending = True

    def resynced(self, dropped_before: int) -> None:
        """The resync hook returned; nothing is missing unless events were dropped since."""
        if self.dropped == dropped_before:
            self.resync_needed = False

    async def run(self) -> None:
        """The consumer task: deliver events and run resync points, in queue order, forever."""
        while True:
            item = await self._queue.get()
            if isinstance(item, Frame):
                await self._deliver(item)
            else:
                # Events dropped from now on come after this point: they need a new one.
                self._marker_pending = False
                await self._on_marker(item)

    async def _deliver(self, frame: Frame) -> None:
        handler = self._on_frame
        if handler is None:
            return
        try:
            result = handler(frame)
            if result is not None and inspect.isawaitable(result):  # plain handlers skip it
                await result
        except Exception:
            self.handler_errors += 1
            log.exception(
                "%s: event handler failed on a %s event; event skipped",
                self.name,
                frame.kind or "?",
            )
