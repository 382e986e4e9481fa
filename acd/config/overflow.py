"""Overflow (entraide) in the configuration: conditions, partner chains, look-ahead limits.

A condition is a mapping with exactly one key: a live figure with bounds
(``waiting: {at_least: 5}``), ``service_level``, ``schedule``, ``crisis: true``, or a
combination ``all: [...]``, ``any: [...]``, ``not: {...}``.
:func:`acd.config.build.build_overflow` turns the validated section into the core's
:class:`~acd.core.overflow.OverflowSpec`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from acd.config.fields import DeptIdText, Ident, Model, PositiveSeconds, Seconds, Text
from acd.core.overflow import Metric, Select

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names as written in a schedule; their position + 1 is the ISO weekday."""
METRICS = tuple(m.value for m in Metric)
"""The live figures a threshold condition can test, as written in the file."""
CONDITION_KEYS = (*METRICS, "service_level", "schedule", "crisis", "all", "any", "not")

_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")

Count = Annotated[int, Field(ge=0)]
Amount = Annotated[float, Field(ge=0)]


def _clock_time(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        hours, minutes = divmod(value, 60)
        raise PydanticCustomError(
            "time-not-text",
            'write the time in quotes, e.g. "{hhmm}" (unquoted, YAML reads {hhmm} as a number)',
            {"hhmm": f"{hours:02d}:{minutes:02d}"},
        )
    if isinstance(value, str) and not _TIME_RE.match(value):
        raise PydanticCustomError(
            "bad-time",
            "'{value}' is not a time of day: write HH:MM, from 00:00 to 23:59",
            {"value": value},
        )
    return value


ClockTime = Annotated[
    str,
    BeforeValidator(_clock_time),
    WithJsonSchema({"type": "string", "pattern": _TIME_RE.pattern}),
]
"""A local time of day, ``"HH:MM"``."""


def _share(value: float) -> float:
    if not 0 < value <= 1:
        raise PydanticCustomError(
            "bad-share",
            "{value} is not a share: write a number above 0 and at most 1, e.g. 0.9 for 90 %",
            {"value": f"{value:g}"},
        )
    return value


Share = Annotated[float, AfterValidator(_share)]
"""A share in (0, 1]: ``0.9`` is 90 %."""


def _only_true(value: bool) -> bool:
    if not value:
        raise PydanticCustomError(
            "crisis-false",
            "write 'crisis: true'; for outside crisis mode write 'not: {crisis: true}'",
        )
    return value


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class _Aliased(Model):
    model_config = ConfigDict(populate_by_name=True)


class ThresholdConfig(Model):
    """A live figure at least and/or at most a value, e.g. ``{at_least: 5}``."""

    at_least: Amount | None = None
    at_most: Amount | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.at_least is None and self.at_most is None:
            raise PydanticCustomError(
                "empty-threshold", "give at_least and/or at_most, e.g. {at_least: 5}"
            )
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise PydanticCustomError(
                "threshold-inverted",
                "at_least {low} is above at_most {high}: this condition can never hold",
                {"low": f"{self.at_least:g}", "high": f"{self.at_most:g}"},
            )
        return self


class ServiceLevelConfig(Model):
    """The share of calls answered within the target is below ``below`` over a window."""

    below: Share
    """A share between 0 and 1: ``0.9`` is 90 % answered within the target (sl_target_s)."""
    window_min: Annotated[int, Field(ge=1, le=60)] = 15
    """The last minutes counted, 1 to 60."""


class ScheduleConfig(_Aliased):
    """Days and a local time window; a window ending before it starts crosses midnight."""

    days: tuple[Day, ...] = Field(default=DAYS, min_length=1)
    """Days the window starts on (mon…sun); absent means every day."""
    from_: ClockTime = Field(alias="from")
    """Start, local time ``"HH:MM"``."""
    to: ClockTime
    """End, local time ``"HH:MM"``; before ``from``, it is on the next day."""
    tz: Text = "Europe/Paris"
    """Time zone of the window (IANA name)."""

    @field_validator("days")
    @classmethod
    def _distinct_days(cls, days: tuple[str, ...]) -> tuple[str, ...]:
        for i, day in enumerate(days):
            if day in days[:i]:
                raise PydanticCustomError("duplicate-day", "'{day}' is listed twice", {"day": day})
        return days

    @field_validator("to")
    @classmethod
    def _not_empty(cls, to: str, info: ValidationInfo) -> str:
        if info.data.get("from_") == to:
            raise PydanticCustomError(
                "empty-window",
                "the window from {t} to {t} is empty: 'from' and 'to' must differ "
                "(for the whole day, leave the schedule out)",
                {"t": to},
            )
        return to

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "unknown-time-zone",
                "unknown time zone '{tz}' (an IANA name, e.g. Europe/Paris)",
                {"tz": tz},
            ) from None
        return tz

    @property
    def start_min(self) -> int:
        """Minutes after local midnight the window opens."""
        return _minutes(self.from_)

    @property
    def end_min(self) -> int:
        """Minutes after local midnight the window closes."""
        return _minutes(self.to)

    @property
    def iso_days(self) -> frozenset[int]:
        """The days as ISO weekdays (1 = Monday)."""
        return frozenset(DAYS.index(d) + 1 for d in self.days)


class ConditionConfig(_Aliased):
    """A condition: exactly one key, e.g. ``{waiting: {at_least: 5}}`` or ``{crisis: true}``."""

    waiting: ThresholdConfig | None = None
    """Calls waiting in the department's queues."""
    oldest_wait_s: ThresholdConfig | None = None
    """Wait of the oldest waiting call, in seconds."""
    estimated_wait_s: ThresholdConfig | None = None
    """Estimated wait of a new call, in seconds (unknown counts as endless)."""
    available_agents: ThresholdConfig | None = None
    """ARM free to take a call now."""
    logged_in_agents: ThresholdConfig | None = None
    """ARM logged in (free, on a call, in wrap-up or paused)."""
    service_level: ServiceLevelConfig | None = None
    schedule: ScheduleConfig | None = None
    crisis: Annotated[bool, AfterValidator(_only_true)] | None = None
    """``true``: the department is in crisis mode (plan blanc), set by a supervisor."""
    all_: tuple[ConditionConfig, ...] | None = Field(default=None, alias="all", min_length=1)
    """Every condition of the list holds."""
    any_: tuple[ConditionConfig, ...] | None = Field(default=None, alias="any", min_length=1)
    """At least one condition of the list holds."""
    not_: ConditionConfig | None = Field(default=None, alias="not")
    """The condition does not hold."""

    @model_validator(mode="before")
    @classmethod
    def _one_key(cls, data: Any) -> Any:
        if isinstance(data, BaseModel):
            return data
        if not isinstance(data, dict):
            raise PydanticCustomError(
                "condition-type",
                "a condition is a mapping with one key, e.g. {waiting: {at_least: 5}} "
                "or {crisis: true}",
            )
        if not data:
            raise PydanticCustomError(
                "empty-condition",
                "a condition needs one key: {keys}",
                {"keys": ", ".join(CONDITION_KEYS)},
            )
        if len(data) > 1:
            keys = ", ".join(str(k) for k in data)
            raise PydanticCustomError(
                "several-conditions",
                "a condition has exactly one key, not {n} ({keys}): to require them all, "
                "write all: [...] with one condition per item (any: [...] for either)",
                {"n": len(data), "keys": keys},
            )
        return data

    @model_validator(mode="after")
    def _has_value(self) -> Self:
        if self.key is None:
            raise PydanticCustomError("condition-without-value", "the condition has no value")
        return self

    @property
    def key(self) -> str | None:
        """The condition's key as written (``waiting``, ``all``…); ``None`` when left empty."""
        for name, info in type(self).model_fields.items():
            if getattr(self, name) is not None:
                return info.alias or name
        return None


class LookAheadConfig(Model):
    """What a partner's live load must show before it is sent a call."""

    max_waiting: Count | None = None
    """At most this many calls already waiting at the partner."""
    min_available: Count = 1
    """At least this many ARM free at the partner."""
    max_estimated_wait_s: Seconds | None = None
    """The partner's estimated wait at most this long."""
    better_than_origin: bool = True
    """Only a partner whose estimated wait is shorter than ours."""


class PartnerConfig(Model):
    """A SAMU outside this platform that can take overflowing calls."""

    id: Ident
    name: Text
    number: str = Field(pattern=r"^\+?[0-9]+$")
    trunk: Text
    accept_blind: bool = False
    """Send calls even when its load is unknown (not published, or too old)."""


class RuleConfig(Model):
    """While ``when`` holds, calls go down the chain of partners, each tried in order."""

    id: Ident
    when: ConditionConfig | None = None
    """When the rule starts; absent: always on, the look-ahead alone decides."""
    until: ConditionConfig | None = None
    """When an active rule stops (hysteresis); absent: as soon as ``when`` no longer holds."""
    partners: tuple[Ident, ...]
    """Department ids of this platform or external partner ids, tried in order."""
    look_ahead: LookAheadConfig = LookAheadConfig()
    select: Select = Select.OLDEST
    """Which waiting calls go first: ``oldest`` or ``newest``."""
    min_wait_s: Seconds = 0.0
    """Only calls that waited this long here may leave."""
    max_per_evaluation: Annotated[int, Field(ge=1)] = 1
    """Calls sent at most per evaluation (every ``evaluate_every_s``)."""
    max_share_of_free: Share = 1.0
    """At most this share of a partner's free ARM per evaluation (at least one call)."""
    cooldown_s: Seconds = 0.0
    """The rule starts or stops at most once per this delay."""
    priorities: tuple[Ident, ...] | None = Field(default=None, min_length=1)
    """Only calls of these priority classes leave; absent: all."""

    @field_validator("partners")
    @classmethod
    def _not_empty(cls, partners: tuple[str, ...]) -> tuple[str, ...]:
        if not partners:
            raise PydanticCustomError(
                "empty-chain",
                "the partner chain is empty: name at least one partner "
                "(a department id of this platform or an external partner id)",
            )
        return partners


class OverflowConfig(Model):
    """Entraide between SAMU: external partners, evaluation timing, each department's rules."""

    evaluate_every_s: PositiveSeconds = 1.0
    """How often every rule is evaluated."""
    partner_load_ttl_s: PositiveSeconds = 10.0
    """A partner's published load older than this is unknown."""
    partner_retry_s: Seconds = 30.0
    """A partner that refused or failed a call is skipped for this long."""
    partners: tuple[PartnerConfig, ...] = ()
    rules: dict[DeptIdText, tuple[RuleConfig, ...]] = Field(default_factory=dict)
    """Each department's rules, evaluated in order: the first that sends calls wins."""


def threshold_of(c: ConditionConfig) -> tuple[Metric, ThresholdConfig]:
    """The metric and bounds of a threshold condition (``waiting: {at_least: 5}``)."""
    for metric in Metric:
        threshold: ThresholdConfig | None = getattr(c, metric.value)
        if threshold is not None:
            return metric, threshold
    raise ValueError(f"not a threshold condition: {c.key}")
