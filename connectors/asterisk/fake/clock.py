"""Time for the fake PBX: EPOCH follows the loop clock, every delay is scaled onto it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    """A scheduled callback that can be cancelled (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None:
        """Forget the callback if it has not run yet."""


class Scheduler(Protocol):
    """What the PBX model needs from time: EPOCH, and callbacks after model delays."""

    def epoch(self) -> float:
        """The PBX's ``${EPOCH}`` (seconds, not rounded)."""

    def later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` after ``delay_s`` model seconds."""


class LoopScheduler:
    """A scheduler on the running asyncio loop: model seconds times ``scale`` loop seconds."""

    def __init__(self, *, scale: float = 1.0, epoch0: float | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self.scale = scale
        self._t0 = self._loop.time()
        self._epoch0 = time.time() if epoch0 is None else epoch0

    def epoch(self) -> float:
        """Unscaled: the heartbeat the middleware writes comes from its wall clock."""
        return self._epoch0 + (self._loop.time() - self._t0)

    def later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        """``loop.call_later`` of the scaled delay; equal deadlines run in call order."""
        return self._loop.call_later(max(delay_s, 0.0) * self.scale, callback)

    def loop_time(self) -> float:
        """The loop clock, for logs."""
        return self._loop.time()
