"""The world's agenda: future happenings in time order, first planned first on a tie."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from enum import Enum

from acd.core.ids import RouteId

GRAIN = 1 / 1024
"""Happenings fall on a grid of about a millisecond. A power of two keeps the sums exact:
a deadline the engine sets at ``arrival + 30`` is reached with a wait of exactly 30 s."""


class Kind(Enum):
    """What is due to happen in the world."""

    LOGIN = "login"
    ARRIVAL = "arrival"
    PATIENCE_END = "patience-end"
    CONFIRM = "confirm"
    ANSWER = "answer"
    RING_OUT = "ring-out"
    TALK_END = "talk-end"
    VERIFY = "verify"
    PARTNER_TAKES = "partner-takes"
    PARTNER_REFUSES = "partner-refuses"
    PARTNER_REPORT = "partner-report"
    BREAK_START = "break-start"
    BREAK_END = "break-end"
    BACK = "back"


@dataclass(frozen=True, slots=True, kw_only=True)
class Happening:
    """One planned happening: its kind, its subject, and the subject's token then."""

    kind: Kind
    subject: str
    """The call, agent or department concerned."""
    token: int = 0
    """The subject's token when this was planned: a stale happening is skipped."""
    route: RouteId | None = None


@dataclass(slots=True)
class Agenda:
    """Future happenings in time order; the sequence number breaks ties first-planned-first."""

    heap: list[tuple[float, int, Happening]] = field(default_factory=list)
    seq: int = 0

    def add(
        self, at: float, kind: Kind, subject: str, token: int = 0, route: RouteId | None = None
    ) -> None:
        """Plan a happening at ``at``, rounded up to the grid."""
        at = math.ceil(at / GRAIN) * GRAIN
        self.seq += 1
        happening = Happening(kind=kind, subject=subject, token=token, route=route)
        heapq.heappush(self.heap, (at, self.seq, happening))

    def next_at(self) -> float:
        """When the next happening is due (infinity when none is)."""
        return self.heap[0][0] if self.heap else math.inf

    def pop(self) -> Happening:
        """Remove and return the next happening."""
        return heapq.heappop(self.heap)[2]
