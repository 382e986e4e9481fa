"""Seeded traffic: durations keep their mean, arrivals follow rates and surges, streams split."""

from __future__ import annotations

import random
import re
import statistics

import pytest

from acd.core.ids import DeptId, QueueId
from acd.core.testing import simple_spec
from acd.sim.traffic import (
    Behaviour,
    Duration,
    Partners,
    Shape,
    Streams,
    Surge,
    caller_number,
    default_priority_shares,
    default_queue_shares,
    next_arrival,
    pick,
    rate_at,
)

D75 = DeptId("75")


@pytest.mark.parametrize("shape", [Shape.EXPONENTIAL, Shape.LOGNORMAL, Shape.FIXED])
def test_a_duration_keeps_its_mean_whatever_its_shape(shape: Shape) -> None:
    """Exponential, log-normal and fixed patience or talk times all average to the mean."""
    rng = random.Random(1)
    duration = Duration(shape=shape, mean_s=90.0, sigma=0.6)
    mean = statistics.fmean(duration.draw(rng) for _ in range(20_000))
    assert mean == pytest.approx(90.0, rel=0.03)


def test_a_duration_refuses_a_mean_that_is_not_positive() -> None:
    """A zero mean is a configuration mistake, not an instant caller."""
    with pytest.raises(ValueError, match="positive mean"):
        Duration(shape=Shape.EXPONENTIAL, mean_s=0.0)


def test_arrivals_come_at_the_configured_rate() -> None:
    """Over a long window the count of Poisson arrivals matches rate × time."""
    rng = random.Random(2)
    t, count = 0.0, 0
    while (nxt := next_arrival(rng, base=0.5, dept=D75, after=t, until=10_000.0)) is not None:
        t, count = nxt, count + 1
    assert count == pytest.approx(5_000, rel=0.05)


def test_no_arrival_is_generated_past_the_end() -> None:
    """The next arrival is ``None`` once it would fall after ``until``."""
    rng = random.Random(3)
    assert next_arrival(rng, base=0.001, dept=D75, after=0.0, until=1e-6) is None
    assert next_arrival(rng, base=0.0, dept=D75, after=0.0, until=1e9) is None


def test_a_surge_multiplies_the_rate_of_its_departments_in_its_window() -> None:
    """Inside the window the rate is scaled; outside it, or for another department, not."""
    surge = Surge(start_s=100.0, end_s=200.0, factor=4.0, depts=(D75,))
    assert rate_at(0.1, D75, 150.0, (surge,)) == pytest.approx(0.4)
    assert rate_at(0.1, D75, 250.0, (surge,)) == pytest.approx(0.1)
    assert rate_at(0.1, DeptId("92"), 150.0, (surge,)) == pytest.approx(0.1)


def test_arrivals_during_a_surge_are_denser() -> None:
    """A ×10 surge window holds about ten times the arrivals of a quiet window."""
    surges = (Surge(start_s=5_000.0, end_s=10_000.0, factor=10.0),)
    rng = random.Random(4)
    t, before, during = 0.0, 0, 0
    while nxt := next_arrival(rng, base=0.1, dept=D75, after=t, until=1e4, surges=surges):
        t = nxt
        if t < 5_000.0:
            before += 1
        else:
            during += 1
    assert during / before == pytest.approx(10.0, rel=0.15)


def test_pick_follows_the_shares_and_leaves_the_rest_to_the_default() -> None:
    """Items come out in proportion to their share; the remainder yields ``None``."""
    rng = random.Random(5)
    draws = [pick(rng, (("vitale", 0.1), ("administratif", 0.2))) for _ in range(20_000)]
    assert draws.count("vitale") / len(draws) == pytest.approx(0.1, rel=0.1)
    assert draws.count("administratif") / len(draws) == pytest.approx(0.2, rel=0.1)
    assert draws.count(None) / len(draws) == pytest.approx(0.7, rel=0.05)


def test_named_streams_are_reproducible_and_independent() -> None:
    """The same seed and name give the same draws; another name gives other draws."""
    a, b = Streams(7), Streams(7)
    first = [a("arrivals", "75").random() for _ in range(3)]
    assert first == [b("arrivals", "75").random() for _ in range(3)]
    assert first != [b("arrivals", "92").random() for _ in range(3)]
    assert a("arrivals", "75") is a("arrivals", "75")


def test_caller_numbers_look_french() -> None:
    """Ten digits starting with 01 to 07."""
    rng = random.Random(8)
    assert all(re.fullmatch(r"0[1-7]\d{8}", caller_number(rng)) for _ in range(100))


def test_default_shares_use_the_most_urgent_class_and_secondary_queues() -> None:
    """5 % of callers get the greatest head start; 5 % go to each non-first queue."""
    spec = simple_spec()
    assert default_priority_shares(spec) == (("vitale", 0.05),)
    assert default_queue_shares(spec) == ()


def test_behaviour_rejects_impossible_shares() -> None:
    """Shares above one, negative shares and inverted ring delays are refused."""
    with pytest.raises(ValueError, match="more than 1"):
        Behaviour(priority_shares=(("a", 0.6), ("b", 0.6)))
    with pytest.raises(ValueError, match="negative"):
        Behaviour(queue_shares=((QueueId("75-main"), -0.1),))
    with pytest.raises(ValueError, match="ring delay"):
        Behaviour(ring_delay_s=(6.0, 2.0))
    with pytest.raises(ValueError, match="refusal share"):
        Partners(refusal_share=2.0)
