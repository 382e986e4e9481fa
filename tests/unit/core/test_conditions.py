"""Overflow rule conditions: thresholds, service level, schedules across midnight and DST."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from acd.core.overflow import (
    AllOf,
    AnyOf,
    CrisisOn,
    DeptLoad,
    Metric,
    NotOf,
    Schedule,
    Seen,
    ServiceLevelBelow,
    Threshold,
    holds,
    in_schedule,
)

PARIS = ZoneInfo("Europe/Paris")
EVERY_DAY = frozenset(range(1, 8))
NIGHT = Schedule(days=EVERY_DAY, start_min=22 * 60, end_min=7 * 60)


def _load(**kw: object) -> DeptLoad:
    base: dict[str, object] = {
        "waiting": 0,
        "oldest_wait_s": 0.0,
        "estimated_wait_s": 0.0,
        "available_agents": 1,
        "logged_in_agents": 1,
        "service_level": {},
        "crisis": False,
    }
    return DeptLoad(**{**base, **kw})  # type: ignore[arg-type]


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


@pytest.mark.parametrize(
    ("cond", "load", "expected"),
    [
        (Threshold(metric=Metric.WAITING, at_least=5), {"waiting": 5}, True),
        (Threshold(metric=Metric.WAITING, at_least=5), {"waiting": 4}, False),
        (Threshold(metric=Metric.OLDEST_WAIT_S, at_least=60), {"oldest_wait_s": 61.0}, True),
        (Threshold(metric=Metric.AVAILABLE_AGENTS, at_most=0), {"available_agents": 0}, True),
        (Threshold(metric=Metric.LOGGED_IN_AGENTS, at_most=0), {"logged_in_agents": 2}, False),
        (Threshold(metric=Metric.ESTIMATED_WAIT_S, at_least=120), {"estimated_wait_s": None}, True),
        (Threshold(metric=Metric.WAITING, at_least=2, at_most=4), {"waiting": 5}, False),
        (ServiceLevelBelow(share=0.9, window_min=15), {"service_level": {15: 0.8}}, True),
        (ServiceLevelBelow(share=0.9, window_min=15), {"service_level": {15: 0.95}}, False),
        (ServiceLevelBelow(share=0.9, window_min=15), {"service_level": {15: None}}, False),
        (CrisisOn(), {"crisis": True}, True),
        (CrisisOn(), {}, False),
    ],
)
def test_single_conditions(cond: object, load: dict[str, object], expected: bool) -> None:
    """Each condition kind reads its figure; an unknown estimated wait counts as infinite."""
    seen: Seen = []
    assert holds(cond, _load(**load), 0.0, seen) is expected  # type: ignore[arg-type]
    assert seen, "every condition records the value it saw"


def test_all_any_not_combine_and_record_every_value() -> None:
    """all/any/not combine conditions, and every value read is kept for the reason."""
    busy = Threshold(metric=Metric.WAITING, at_least=5)
    nobody = Threshold(metric=Metric.AVAILABLE_AGENTS, at_most=0)
    load = _load(waiting=7, available_agents=1)
    seen: Seen = []
    assert holds(AnyOf(items=(busy, nobody)), load, 0.0, seen)
    assert seen == [("waiting", 7), ("available_agents", 1)]
    assert not holds(AllOf(items=(busy, nobody)), load, 0.0, [])
    assert holds(NotOf(item=nobody), load, 0.0, [])


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        ("2026-07-14 21:59", False),
        ("2026-07-14 22:00", True),
        ("2026-07-15 03:00", True),
        ("2026-07-15 06:59", True),
        ("2026-07-15 07:00", False),
        ("2026-07-15 12:00", False),
    ],
)
def test_night_pooling_window_crosses_midnight(local: str, inside: bool) -> None:
    """22:00–07:00 holds from 22:00 until 06:59 the next morning, local time."""
    assert in_schedule(NIGHT, _at(local)) is inside


def test_window_belongs_to_the_day_it_starts() -> None:
    """A Friday-night window runs into Saturday morning but not Saturday night."""
    friday = Schedule(days=frozenset({5}), start_min=22 * 60, end_min=7 * 60)
    assert in_schedule(friday, _at("2026-07-17 23:00"))  # Friday
    assert in_schedule(friday, _at("2026-07-18 06:00"))  # Saturday morning
    assert not in_schedule(friday, _at("2026-07-18 23:00"))  # Saturday night
    assert not in_schedule(friday, _at("2026-07-17 06:00"))  # Friday morning


@pytest.mark.parametrize(
    ("utc", "inside"),
    [
        # Spring forward, 29 March 2026: 02:00 CET becomes 03:00 CEST.
        ("2026-03-28T20:59:00+00:00", False),  # 21:59 CET
        ("2026-03-28T21:00:00+00:00", True),  # 22:00 CET
        ("2026-03-29T04:59:00+00:00", True),  # 06:59 CEST
        ("2026-03-29T05:00:00+00:00", False),  # 07:00 CEST
        # Fall back, 25 October 2026: 03:00 CEST becomes 02:00 CET.
        ("2026-10-24T19:59:00+00:00", False),  # 21:59 CEST
        ("2026-10-24T20:00:00+00:00", True),  # 22:00 CEST
        ("2026-10-25T05:59:00+00:00", True),  # 06:59 CET
        ("2026-10-25T06:00:00+00:00", False),  # 07:00 CET
    ],
)
def test_schedule_follows_local_time_across_daylight_saving(utc: str, inside: bool) -> None:
    """Night pooling starts at 22:00 and ends at 07:00 Paris time on both DST nights."""
    assert in_schedule(NIGHT, datetime.fromisoformat(utc).timestamp()) is inside


def test_daytime_window_on_weekdays_only() -> None:
    """A 08:00–18:00 Monday–Friday window is closed on Sunday."""
    office = Schedule(days=frozenset(range(1, 6)), start_min=8 * 60, end_min=18 * 60)
    assert in_schedule(office, _at("2026-07-15 09:00"))  # Wednesday
    assert not in_schedule(office, _at("2026-07-19 09:00"))  # Sunday
