"""Deadlines as data: the engine stores when it must look again; the runtime wakes it then."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum


class Due(Enum):
    """What a deadline is for."""

    OFFER_CHECK = "offer-check"
    """An offer got no answer nor failure in time: verify with the PBX."""
    MAX_WAIT = "max-wait"
    PENALTY_STEP = "penalty-step"
    """A waiting call may now be offered to agents of a wider penalty."""
    WRAPUP_END = "wrapup-end"
    BACKOFF_END = "backoff-end"
    UNPAUSE = "unpause"
    OVERFLOW_EVAL = "overflow-eval"


Deadline = tuple[float, int, Due, str, int]  # at, seq, kind, subject id, subject token


@dataclass(slots=True)
class Deadlines:
    """A min-heap of deadlines; an entry whose subject token moved on is stale and skipped."""

    heap: list[Deadline] = field(default_factory=list)
    seq: int = 0

    def add(self, at: float, kind: Due, subject: str, token: int) -> None:
        """Ask to be woken at ``at`` about ``subject`` while its token stays ``token``."""
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, subject, token))

    def reserve(self) -> int:
        """The place in line of a deadline that may be added later with :meth:`add_reserved`.

        Deadlines due at the same instant fire in the order they were asked for: a
        deadline added late with its reserved number fires exactly where it would have.
        """
        self.seq += 1
        return self.seq

    def add_reserved(self, at: float, seq: int, kind: Due, subject: str, token: int) -> None:
        """Add a deadline under a number taken from :meth:`reserve`."""
        heapq.heappush(self.heap, (at, seq, kind, subject, token))

    def next(self, valid: Callable[[Due, str, int], bool]) -> float | None:
        """The earliest valid deadline, dropping stale ones on the way."""
        heap = self.heap
        while heap:
            at, _, kind, subject, token = heap[0]
            if valid(kind, subject, token):
                return at
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float) -> Deadline | None:
        """Remove and return the earliest deadline at or before ``now`` (stale ones too)."""
        if self.heap and self.heap[0][0] <= now:
            return heapq.heappop(self.heap)
        return None

    def __len__(self) -> int:
        return len(self.heap)
