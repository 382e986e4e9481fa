"""Seeded traffic: every random draw of a simulation comes from a stream named by its purpose."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from acd.core.ids import DeptId, QueueId
from acd.core.spec import EngineSpec

T = TypeVar("T")


class Shape(StrEnum):
    """The law of a random duration."""

    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"
    FIXED = "fixed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Duration:
    """A random duration with a given mean; ``sigma`` is the log-normal's shape parameter."""

    shape: Shape
    mean_s: float
    sigma: float = 0.6

    def __post_init__(self) -> None:
        if self.mean_s <= 0 or self.sigma < 0:
            raise ValueError(f"a duration needs a positive mean and sigma ≥ 0: {self}")

    def draw(self, rng: random.Random) -> float:
        """One duration, in seconds."""
        if self.shape is Shape.EXPONENTIAL:
            return rng.expovariate(1.0 / self.mean_s)
        if self.shape is Shape.LOGNORMAL:
            # E[exp(N(mu, sigma²))] = exp(mu + sigma²/2): pick mu so the mean is mean_s.
            mu = math.log(self.mean_s) - self.sigma * self.sigma / 2.0
            return rng.lognormvariate(mu, self.sigma)
        return self.mean_s


@dataclass(frozen=True, slots=True, kw_only=True)
class Surge:
    """From ``start_s`` to ``end_s`` the arrival rates of ``depts`` (all if empty) are scaled."""

    start_s: float
    end_s: float
    factor: float
    depts: tuple[DeptId, ...] = ()

    def __post_init__(self) -> None:
        if self.end_s <= self.start_s or self.factor < 0:
            raise ValueError(f"a surge needs start < end and a factor ≥ 0: {self}")

    def applies(self, dept: DeptId, t: float) -> bool:
        """Whether the surge scales ``dept``'s rate at time ``t``."""
        return self.start_s <= t < self.end_s and (not self.depts or dept in self.depts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Partners:
    """How external partner SAMU behave: the load they publish and how they take a call."""

    waiting: int = 0
    available_agents: int = 2
    estimated_wait_s: float | None = 15.0
    report_every_s: float | None = 5.0
    """How often each partner publishes its load; ``None``: never (look-ahead is blind)."""
    answer_delay_s: float = 3.0
    """Time for the partner to take an overflowed call over the trunk."""
    refusal_share: float = 0.0
    """Share of overflowed calls the partner refuses (congestion)."""

    def __post_init__(self) -> None:
        if not 0 <= self.refusal_share <= 1 or self.answer_delay_s < 0:
            raise ValueError(f"partner refusal share within [0, 1], delay ≥ 0: {self}")
        if self.report_every_s is not None and self.report_every_s <= 0:
            raise ValueError(f"partner report interval must be positive: {self}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Behaviour:
    """How callers and agents behave: patience, phones, talk, breaks; with 2024-ish defaults."""

    patience: Duration = Duration(shape=Shape.EXPONENTIAL, mean_s=90.0)
    """How long a caller waits for an answer before hanging up."""
    talk: Duration = Duration(shape=Shape.LOGNORMAL, mean_s=100.0, sigma=0.6)
    ring_delay_s: tuple[float, float] = (2.0, 6.0)
    """An answering agent picks up after a uniform delay in this range."""
    no_answer_share: float = 0.02
    """Share of offers the agent does not pick up (the phone rings out)."""
    redirect_latency_s: float = 0.05
    """Time for the PBX to move the caller to the agent's phone and confirm the route."""
    back_after_no_answer_s: float = 30.0
    """A missed call pauses the agent; they unpause themselves this long after."""
    priority_shares: tuple[tuple[str, float], ...] = ()
    """Share of callers per priority class; the rest get the configuration's default."""
    queue_shares: tuple[tuple[QueueId, float], ...] = ()
    """Share of a department's callers per queue; the rest go to its first queue."""
    break_every: Duration | None = None
    """Time between an agent's breaks; ``None``: nobody takes a break."""
    break_length: Duration = Duration(shape=Shape.EXPONENTIAL, mean_s=300.0)
    partners: Partners = Partners()

    def __post_init__(self) -> None:
        low, high = self.ring_delay_s
        if not 0 <= low <= high:
            raise ValueError(f"ring delay range must be 0 ≤ low ≤ high: {self.ring_delay_s}")
        if not 0 <= self.no_answer_share <= 1:
            raise ValueError(f"no-answer share must be within [0, 1]: {self.no_answer_share}")
        if sum(share for _, share in self.priority_shares) > 1 + 1e-9:
            raise ValueError(f"priority shares add up to more than 1: {self.priority_shares}")
        if any(share < 0 for _, share in (*self.priority_shares, *self.queue_shares)):
            raise ValueError("a priority or queue share cannot be negative")


class Streams:
    """Independent random streams derived from one seed, one per purpose and subject.

    Naming streams keeps runs comparable: doubling one department's rate leaves the other
    departments' callers, and every agent's phone, drawing exactly the same numbers.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def __call__(self, purpose: str, subject: str) -> random.Random:
        """The stream of ``purpose`` for ``subject`` (created on first use)."""
        key = f"{self.seed}/{purpose}/{subject}"
        rng = self._streams.get(key)
        if rng is None:
            rng = self._streams[key] = random.Random(key)  # noqa: S311 - reproducible, not secret
        return rng


def rate_at(base: float, dept: DeptId, t: float, surges: tuple[Surge, ...]) -> float:
    """A department's arrival rate (calls/s) at time ``t``, surges applied."""
    rate = base
    for surge in surges:
        if surge.applies(dept, t):
            rate *= surge.factor
    return rate


def next_arrival(
    rng: random.Random,
    *,
    base: float,
    dept: DeptId,
    after: float,
    until: float,
    surges: tuple[Surge, ...] = (),
) -> float | None:
    """The next Poisson arrival after ``after`` and before ``until``, or ``None``.

    The rate is piecewise constant; a gap that crosses a rate change is redrawn from the
    change on, which is exact for a Poisson process (it has no memory).
    """
    edges = sorted({e for s in surges for e in (s.start_s, s.end_s) if e > after})
    t = after
    while t < until:
        rate = rate_at(base, dept, t, surges)
        edge = next((e for e in edges if e > t), math.inf)
        if rate > 0:
            candidate = t + rng.expovariate(rate)
            if candidate < edge:
                return candidate if candidate < until else None
        t = edge
    return None


def pick(rng: random.Random, shares: tuple[tuple[T, float], ...]) -> T | None:
    """One item by its share (one draw, always); ``None`` for the rest of the shares."""
    x = rng.random()
    for item, share in shares:
        if x < share:
            return item
        x -= share
    return None


def caller_number(rng: random.Random) -> str:
    """A plausible French caller number: mobile (06/07) or landline (01–05)."""
    prefix = rng.choice(("06", "06", "07", "01", "02", "03", "04", "05"))
    return prefix + "".join(rng.choice("0123456789") for _ in range(8))


def default_priority_shares(spec: EngineSpec, share: float = 0.05) -> tuple[tuple[str, float], ...]:
    """``share`` of callers in the class with the greatest head start, if it is not the default."""
    if not spec.priorities:
        return ()
    top = max(spec.priorities, key=lambda p: p.head_start_s)
    if top.name == spec.default_priority:
        return ()
    return ((top.name, share),)


def default_queue_shares(
    spec: EngineSpec, share: float = 0.05
) -> tuple[tuple[QueueId, float], ...]:
    """``share`` of a department's callers to each of its queues but the first."""
    return tuple((q, share) for d in spec.departments for q in d.queues[1:])


def scaled_rates(
    depts: tuple[DeptId, ...], *, per_dept: float, scale: float = 1.0
) -> Mapping[DeptId, float]:
    """The same arrival rate for every department, times ``scale``."""
    return {d: per_dept * scale for d in depts}
