"""Seeded Poisson callers: one random stream per department, so a seed replays the same calls."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Shape(StrEnum):
    """The law of a random duration."""

    FIXED = "fixed"
    UNIFORM = "uniform"
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dist:
    """A random duration in model seconds: ``a`` is the value, the low bound or the mean."""

    shape: Shape
    a: float
    b: float = 0.0

    def __post_init__(self) -> None:
        if self.a < 0 or self.b < 0 or (self.shape is Shape.UNIFORM and self.b < self.a):
            raise ValueError(f"a duration cannot be negative or an empty range: {self}")

    @classmethod
    def fixed(cls, value_s: float) -> Dist:
        """Always ``value_s``."""
        return cls(shape=Shape.FIXED, a=value_s)

    @classmethod
    def uniform(cls, low_s: float, high_s: float) -> Dist:
        """Uniform between ``low_s`` and ``high_s``."""
        return cls(shape=Shape.UNIFORM, a=low_s, b=high_s)

    @classmethod
    def exponential(cls, mean_s: float) -> Dist:
        """Exponential of mean ``mean_s``."""
        return cls(shape=Shape.EXPONENTIAL, a=mean_s)

    @classmethod
    def lognormal(cls, mean_s: float, sigma: float = 0.6) -> Dist:
        """Log-normal of mean ``mean_s`` and shape ``sigma``."""
        return cls(shape=Shape.LOGNORMAL, a=mean_s, b=sigma)

    def draw(self, rng: random.Random) -> float:
        """One duration."""
        if self.shape is Shape.FIXED or self.a == 0:
            return self.a
        if self.shape is Shape.UNIFORM:
            return rng.uniform(self.a, self.b)
        if self.shape is Shape.EXPONENTIAL:
            return rng.expovariate(1.0 / self.a)
        mu = math.log(self.a) - self.b * self.b / 2.0
        return rng.lognormvariate(mu, self.b)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficSpec:
    """Arrival rates per department (calls per model second) and the callers' behaviour."""

    rates: Mapping[str, float]
    patience: Dist = field(default_factory=lambda: Dist.exponential(120.0))
    talk: Dist = field(default_factory=lambda: Dist.lognormal(90.0))
    priorities: Mapping[str, float] = field(default_factory=lambda: {"normal": 1.0})
    seed: int = 0

    def __post_init__(self) -> None:
        if any(rate < 0 for rate in self.rates.values()):
            raise ValueError(f"an arrival rate cannot be negative: {dict(self.rates)}")
        if not self.priorities or any(w < 0 for w in self.priorities.values()):
            raise ValueError("priorities need at least one class and no negative weight")


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival:
    """One generated caller: when (model seconds after the start), where, and how they act."""

    at_s: float
    dept: str
    caller_num: str
    priority: str
    patience_s: float
    talk_s: float


class DeptStream:
    """The arrivals of one department, drawn in order from the department's own stream."""

    def __init__(self, spec: TrafficSpec, dept: str) -> None:
        self.dept = dept
        self._spec = spec
        self._rate = spec.rates[dept]
        self._rng = random.Random(f"{spec.seed}/{dept}")  # noqa: S311 - reproducible, not secret
        self._classes = list(spec.priorities)
        self._weights = [spec.priorities[name] for name in self._classes]
        self._clock = 0.0

    def __iter__(self) -> Iterator[Arrival]:
        return self

    def __next__(self) -> Arrival:
        if self._rate <= 0:
            raise StopIteration
        rng = self._rng
        self._clock += rng.expovariate(self._rate)
        return Arrival(
            at_s=self._clock,
            dept=self.dept,
            caller_num=f"06{rng.randrange(10**8):08d}",
            priority=rng.choices(self._classes, self._weights)[0],
            patience_s=self._spec.patience.draw(rng),
            talk_s=self._spec.talk.draw(rng),
        )


def arrivals(spec: TrafficSpec, horizon_s: float) -> list[Arrival]:
    """Every arrival before ``horizon_s``, all departments merged in time order."""
    merged: list[Arrival] = []
    for dept in sorted(spec.rates):
        for arrival in DeptStream(spec, dept):
            if arrival.at_s >= horizon_s:
                break
            merged.append(arrival)
    merged.sort(key=lambda a: (a.at_s, a.dept))
    return merged
