"""Live statistics: service level in SAMU terms, speed of answer, estimated wait."""

from __future__ import annotations

import pytest

from acd.core import events as ev
from acd.core.engine import Engine
from acd.core.ids import AgentId, DeptId, QueueId
from acd.core.stats import estimated_wait, service_level
from acd.core.testing import Driver, simple_spec

from .helpers import answer, arrive, hang_up, login, only_offer

D75 = DeptId("75")


def test_answered_within_30_and_60_seconds_and_average_speed(driver: Driver) -> None:
    """Answers at 10 s, 45 s and 90 s count 1 within 30 s, 2 within 60 s; ASA 48.3 s."""
    login(driver, "75-a0")
    driver.send(ev.AgentPaused(agent=AgentId("75-a0"), reason="attente"))
    start = driver.now
    for n in (1, 2, 3):
        arrive(driver, n)
    for wait in (10, 45, 90):
        driver.advance(start + wait - 2)
        offer = only_offer(driver.send(ev.AgentUnpaused(agent=AgentId("75-a0"))))
        driver.send(ev.AgentPaused(agent=AgentId("75-a0"), reason="attente"))
        answer(driver, offer)  # after 2 s of ringing
        driver.send(ev.CallHungUp(call=offer.call), after=1)
    stats = driver.engine.dept_stats(D75, driver.now)
    assert (stats.answered, stats.answered_within_short, stats.answered_within_target) == (3, 1, 2)
    assert stats.average_speed_of_answer_s == pytest.approx((10 + 45 + 90) / 3)
    assert stats.service_level == pytest.approx(2 / 3)


def test_service_level_counts_long_abandons_against_and_ignores_short_ones() -> None:
    """SL = answered within target / (answered + long abandons); short abandons ignored."""
    assert service_level(answered_target=9, answered=10, abandoned=0) == 0.9
    assert service_level(answered_target=9, answered=10, abandoned=2) == 0.75
    assert service_level(answered_target=0, answered=0, abandoned=0) is None


def test_last_hour_window_forgets_older_calls(driver: Driver) -> None:
    """The last-hour service level only counts the last 60 minutes."""
    arrive(driver, 1)
    hang_up(driver, 1, after=100)  # a long abandon
    stats = driver.engine.dept_stats(D75, driver.now)
    assert stats.service_level_last_hour == 0.0
    driver.advance(driver.now + 3700)
    stats = driver.engine.dept_stats(D75, driver.now)
    assert stats.service_level_last_hour is None
    assert stats.service_level == 0.0


@pytest.mark.parametrize(
    ("position", "serving", "available", "aht", "expected"),
    [
        (0, 0, 0, 120.0, None),
        (0, 4, 1, 120.0, 0.0),
        (0, 4, 0, 120.0, 30.0),
        (9, 4, 0, 120.0, 300.0),
        (3, 4, 2, 120.0, 60.0),
    ],
)
def test_estimated_wait_method(
    position: int, serving: int, available: int, aht: float, expected: float | None
) -> None:
    """EWT = (position - available + 1) × AHT / serving agents; 0 if a free agent waits."""
    assert estimated_wait(position, serving, available, aht) == expected


def test_longest_wait_and_estimated_wait_in_queue_stats() -> None:
    """Queue stats report the oldest waiting call and an estimate from the handle time."""
    d = Driver(Engine(simple_spec(engine={"aht_prior_s": 100.0})))
    login(d, "75-a0")
    answer(d, only_offer(arrive(d, 1)))
    arrive(d, 2, after=5)
    arrive(d, 3, after=5)
    stats = d.engine.queue_stats(QueueId("75-main"), d.now)
    assert stats.waiting == 2
    assert stats.longest_wait_s == pytest.approx(5.0)
    assert stats.estimated_wait_s == pytest.approx(3 * 100.0)


def test_average_handle_time_learns_from_calls() -> None:
    """The handle time estimate moves toward observed talk + wrap-up (EWMA weight 0.2)."""
    d = Driver(Engine(simple_spec(queue={"wrapup_s": 20.0}, engine={"aht_prior_s": 100.0})))
    login(d, "75-a0")
    answer(d, only_offer(arrive(d, 1)))
    hang_up(d, 1, after=180)
    stats = d.engine.queue_stats(QueueId("75-main"), d.now)
    assert stats.average_handle_time_s == pytest.approx(100 + 0.2 * (200 - 100))
