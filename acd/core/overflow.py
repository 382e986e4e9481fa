"""Overflow (entraide) rules as data, and the pure evaluation of their conditions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from acd.core.commands import Value
from acd.core.ids import DeptId


class Metric(StrEnum):
    """A live figure of a department a threshold can test."""

    WAITING = "waiting"
    OLDEST_WAIT_S = "oldest_wait_s"
    ESTIMATED_WAIT_S = "estimated_wait_s"
    AVAILABLE_AGENTS = "available_agents"
    LOGGED_IN_AGENTS = "logged_in_agents"


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """``metric`` at least and/or at most a value (an unknown estimate counts as infinite)."""

    metric: Metric
    at_least: float | None = None
    at_most: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceLevelBelow:
    """Answered within the target below ``share`` (0–1) over the last ``window_min`` minutes.

    With no call in the window the service level is unknown and the condition is false.
    """

    share: float
    window_min: int = 15


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """Days and a local time window, e.g. night pooling 22:00–07:00 (Europe/Paris).

    ``start_min``/``end_min`` are minutes after local midnight; an end before the start
    crosses midnight and the window belongs to the day it starts on. ``days`` are ISO
    weekdays (1 = Monday). Local wall time is used, so DST changes move nothing.
    """

    days: frozenset[int]
    start_min: int
    end_min: int
    tz: str = "Europe/Paris"


@dataclass(frozen=True, slots=True, kw_only=True)
class CrisisOn:
    """A supervisor has set the department in crisis mode."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AllOf:
    """Every condition holds."""

    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AnyOf:
    """At least one condition holds."""

    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class NotOf:
    """The condition does not hold."""

    item: Condition


Condition = Threshold | ServiceLevelBelow | Schedule | CrisisOn | AllOf | AnyOf | NotOf


class Select(StrEnum):
    """Which waiting calls an active rule sends first."""

    OLDEST = "oldest"
    NEWEST = "newest"


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerLimits:
    """Look-ahead: what a partner's published load must show to be sent a call."""

    max_waiting: int | None = None
    min_available: int = 1
    max_estimated_wait_s: float | None = None
    better_than_origin: bool = True
    """Skip a partner whose estimated wait is not below the origin's."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalPartner:
    """A SAMU of another platform, reached by a number over a trunk."""

    id: str
    name: str
    number: str
    trunk: str
    accept_blind: bool = False
    """Send calls even when its load is unknown (not published, or stale)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OverflowRule:
    """When ``when`` holds (until ``until`` holds), send calls down an ordered partner chain."""

    id: str
    dept: DeptId
    when: Condition
    partners: tuple[str, ...]
    """Department ids of this platform (internal) or external partner ids, in order."""
    until: Condition | None = None
    """Hysteresis: once active, the rule stops only when this holds (default: not ``when``)."""
    limits: PartnerLimits = field(default_factory=PartnerLimits)
    select: Select = Select.OLDEST
    min_wait_s: float = 0.0
    max_per_evaluation: int = 1
    max_share_of_free: float = 1.0
    """At most this share of a partner's available agents per evaluation (at least one)."""
    cooldown_s: float = 0.0
    """The rule changes between active and inactive at most once per cooldown."""
    priorities: frozenset[str] | None = None
    """Only calls of these priority classes overflow; ``None``: all."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OverflowSpec:
    """Every rule of the platform, the external partners, and evaluation timing."""

    rules: tuple[OverflowRule, ...] = ()
    partners: tuple[ExternalPartner, ...] = ()
    evaluate_every_s: float = 1.0
    partner_load_ttl_s: float = 10.0
    """A published partner load older than this is unknown."""
    partner_retry_s: float = 30.0
    """A partner that refused or failed a call is skipped for this long."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeptLoad:
    """What the conditions of a rule read about its department."""

    waiting: int
    oldest_wait_s: float
    estimated_wait_s: float | None
    available_agents: int
    logged_in_agents: int
    service_level: dict[int, float | None]
    """Service level by window length in minutes, for the windows the rules ask for."""
    crisis: bool

    def metric(self, metric: Metric) -> float:
        """The figure a threshold tests; an unknown estimated wait is infinite."""
        if metric is Metric.ESTIMATED_WAIT_S:
            ewt = self.estimated_wait_s
            return float("inf") if ewt is None else ewt
        return float(getattr(self, metric.value))


Seen = list[tuple[str, Value]]


def holds(cond: Condition, load: DeptLoad, now: float, seen: Seen) -> bool:
    """Whether ``cond`` holds on ``load`` at ``now``; appends the values it read to ``seen``."""
    if isinstance(cond, Threshold):
        value = load.metric(cond.metric)
        shown: Value = None if value == float("inf") else round(value, 3)
        if isinstance(shown, float) and shown.is_integer():
            shown = int(shown)
        seen.append((cond.metric.value, shown))
        return (cond.at_least is None or value >= cond.at_least) and (
            cond.at_most is None or value <= cond.at_most
        )
    if isinstance(cond, ServiceLevelBelow):
        sl = load.service_level.get(cond.window_min)
        seen.append((f"service_level_{cond.window_min}min", None if sl is None else round(sl, 4)))
        return sl is not None and sl < cond.share
    if isinstance(cond, Schedule):
        inside = in_schedule(cond, now)
        seen.append(("schedule", inside))
        return inside
    if isinstance(cond, CrisisOn):
        seen.append(("crisis", load.crisis))
        return load.crisis
    return _holds_composite(cond, load, now, seen)


def _holds_composite(cond: AllOf | AnyOf | NotOf, load: DeptLoad, now: float, seen: Seen) -> bool:
    if isinstance(cond, AllOf):
        return all([holds(c, load, now, seen) for c in cond.items])
    if isinstance(cond, AnyOf):
        return any([holds(c, load, now, seen) for c in cond.items])
    return not holds(cond.item, load, now, seen)


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    """The time zone of that IANA name (looked up once)."""
    return ZoneInfo(name)


def in_schedule(s: Schedule, now: float) -> bool:
    """Whether epoch time ``now`` falls in the schedule's local window."""
    local = datetime.fromtimestamp(now, zone(s.tz))
    minute = local.hour * 60 + local.minute
    weekday = local.isoweekday()
    if s.start_min <= s.end_min:
        return weekday in s.days and s.start_min <= minute < s.end_min
    if minute >= s.start_min:
        return weekday in s.days
    yesterday = 7 if weekday == 1 else weekday - 1
    return minute < s.end_min and yesterday in s.days


def windows(cond: Condition | None) -> set[int]:
    """The service-level windows (minutes) a condition reads."""
    if cond is None:
        return set()
    if isinstance(cond, ServiceLevelBelow):
        return {cond.window_min}
    if isinstance(cond, AllOf | AnyOf):
        return set().union(*(windows(c) for c in cond.items))
    if isinstance(cond, NotOf):
        return windows(cond.item)
    return set()
