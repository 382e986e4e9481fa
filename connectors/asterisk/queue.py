"""The event queue between reader and consumer: bounded for frames, never blocks the reader."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

from acd.ami.frames import Frame

M = TypeVar("M")


class EventQueue(Generic[M]):
    """Frames in arrival order, interleaved with markers (resync points), for one consumer.

    ``put_frame`` refuses a frame when ``maxsize`` frames are waiting instead of waiting
    for room: the reader must keep reading or Asterisk drops the session. Markers are few
    (one per login or per overflow) and are never refused, so a resync point cannot be
    lost. Each entry keeps the loop time it was queued at, for the consumer's lag.
    """

    __slots__ = ("_entries", "_frames", "_nonempty", "maxsize")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"the event queue needs room for at least one frame, got {maxsize}")
        self.maxsize = maxsize
        self._entries: deque[tuple[float, Frame | M]] = deque()
        self._frames = 0
        self._nonempty = asyncio.Event()

    @property
    def depth(self) -> int:
        """Frames waiting (markers not counted)."""
        return self._frames

    @property
    def full(self) -> bool:
        """Whether the next frame would be refused."""
        return self._frames >= self.maxsize

    def put_frame(self, frame: Frame, now: float) -> bool:
        """Queue a frame; False (and nothing queued) when the queue is full."""
        if self._frames >= self.maxsize:
            return False
        self._entries.append((now, frame))
        self._frames += 1
        self._nonempty.set()
        return True

    def put_marker(self, marker: M, now: float) -> None:
        """Queue a marker behind every frame already queued; never refused."""
        self._entries.append((now, marker))
        self._nonempty.set()

    async def get(self) -> Frame | M:
        """The oldest entry, waiting for one if the queue is empty."""
        while not self._entries:
            self._nonempty.clear()
            await self._nonempty.wait()
        _, item = self._entries.popleft()
        if isinstance(item, Frame):
            self._frames -= 1
        return item

    def oldest_frame_age(self, now: float) -> float:
        """Seconds the oldest waiting frame has waited; 0.0 when none waits."""
        for queued_at, item in self._entries:
            if isinstance(item, Frame):
                return max(0.0, now - queued_at)
        return 0.0
