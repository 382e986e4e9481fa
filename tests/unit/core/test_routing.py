"""Who gets which call: strategies, penalties and their widening, skills, priority ageing."""

from __future__ import annotations

import pytest

from acd.core import events as ev
from acd.core.engine import Engine
from acd.core.ids import AgentId, DeptId, QueueId
from acd.core.spec import (
    AgentSpec,
    DepartmentSpec,
    EngineSpec,
    Membership,
    PenaltyStep,
    QueueSpec,
    Strategy,
)
from acd.core.testing import PRIORITIES, Driver, offers, simple_spec

from .helpers import aid, answer, arrive, cid, hang_up, login, no_offer, only_offer

Q75, Q92 = QueueId("75-main"), QueueId("92-main")


def _spec(
    agents: list[tuple[str, dict[str, int], dict[str, int]]],
    *,
    queue: dict[str, object] | None = None,
) -> EngineSpec:
    """Departments 75 and 92; ``agents`` as (id, {queue: penalty}, {skill: level})."""
    return EngineSpec(
        departments=(
            DepartmentSpec(id=DeptId("75"), name="Paris", queues=(Q75,)),
            DepartmentSpec(id=DeptId("92"), name="Hauts-de-Seine", queues=(Q92,)),
        ),
        queues=(
            QueueSpec(id=Q75, dept=DeptId("75"), **(queue or {})),  # type: ignore[arg-type]
            QueueSpec(id=Q92, dept=DeptId("92")),
        ),
        agents=tuple(
            AgentSpec(
                id=AgentId(a),
                name=a,
                endpoint=f"PJSIP/{a}",
                memberships=tuple(
                    Membership(queue=QueueId(q), penalty=p) for q, p in serves.items()
                ),
                skills=tuple(sorted(skills.items())),
            )
            for a, serves, skills in agents
        ),
        priorities=PRIORITIES,
    )


def _serve(d: Driver, n: int, talk: float) -> AgentId:
    """Offer, answer and end call ``n``; the agent who took it."""
    offer = only_offer(arrive(d, n))
    answer(d, offer, after=0)
    hang_up(d, n, after=talk)
    return offer.agent


def test_longest_idle_agent_gets_the_call(driver: Driver) -> None:
    """The agent free for the longest time is rung first."""
    login(driver, "75-a1", "75-a0")
    assert only_offer(arrive(driver, 1, after=1)).agent == aid("75-a1")


def test_longest_idle_counts_from_the_end_of_the_last_call(driver: Driver) -> None:
    """An agent who just finished a call goes behind one idle for longer."""
    login(driver, "75-a0", "75-a1")
    first = _serve(driver, 1, talk=10)
    assert first == aid("75-a0")
    assert only_offer(arrive(driver, 2, after=1)).agent == aid("75-a1")


def test_round_robin_rotates_and_remembers_where_it_stopped() -> None:
    """Round-robin rings agents in turn, whatever their idle time."""
    d = Driver(Engine(simple_spec(agents_per_dept=3, queue={"strategy": Strategy.ROUND_ROBIN})))
    login(d, "75-a2", "75-a1", "75-a0")
    order = [_serve(d, n, talk=1) for n in range(6)]
    assert order == [aid(f"75-a{i}") for i in (0, 1, 2, 0, 1, 2)]


def test_fewest_calls_prefers_the_agent_with_fewer_answered_calls() -> None:
    """Fewest-calls rings the agent who answered the fewest calls."""
    d = Driver(Engine(simple_spec(queue={"strategy": Strategy.FEWEST_CALLS})))
    login(d, "75-a0")
    _serve(d, 1, talk=5)
    _serve(d, 2, talk=5)
    login(d, "75-a1")
    d.send(ev.AgentLoggedIn(agent=aid("75-a1")))
    assert only_offer(arrive(d, 3, after=100)).agent == aid("75-a1")


def test_least_talk_time_prefers_the_agent_who_talked_least() -> None:
    """Least-talk-time rings the agent with the smallest total talk time."""
    d = Driver(Engine(simple_spec(queue={"strategy": Strategy.LEAST_TALK_TIME})))
    login(d, "75-a0", "75-a1")
    assert _serve(d, 1, talk=300) == aid("75-a0")
    assert _serve(d, 2, talk=10) == aid("75-a1")
    assert _serve(d, 3, talk=10) == aid("75-a1")


def test_lower_penalty_agent_is_preferred_over_a_longer_idle_one() -> None:
    """A pooled agent (penalty 2) takes calls only when no penalty-0 agent is free."""
    spec = _spec(
        [("pool", {"75-main": 2, "92-main": 0}, {}), ("local", {"75-main": 0}, {})],
        queue={"base_max_penalty": 2},
    )
    d = Driver(Engine(spec))
    login(d, "pool", "local")
    assert only_offer(arrive(d, 1, after=5)).agent == aid("local")
    assert only_offer(arrive(d, 2)).agent == aid("pool")


def test_penalty_widens_with_wait_without_losing_place() -> None:
    """Penalty-2 agents take a call only after the step; the call keeps its place."""
    spec = _spec(
        [("pool", {"75-main": 2}, {})],
        queue={"penalty_steps": (PenaltyStep(after_s=30.0, max_penalty=2),)},
    )
    d = Driver(Engine(spec))
    login(d, "pool")
    no_offer(arrive(d, 1))
    arrive(d, 2, after=10)
    no_offer(d.advance(d.now + 19.9))
    offer = only_offer(d.advance(d.now + 0.2))
    assert (offer.call, offer.reason.get("allowed_penalty")) == (cid(1), 2)


def test_pooled_agent_serves_its_own_department_first() -> None:
    """An agent free in two queues takes the call of the queue where its penalty is lowest."""
    spec = _spec([("pool", {"75-main": 1, "92-main": 0}, {})], queue={"base_max_penalty": 1})
    d = Driver(Engine(spec))
    arrive(d, 1, dept="75")
    arrive(d, 2, dept="92", after=30)
    assert only_offer(login(d, "pool")).call == cid(2)


@pytest.mark.parametrize(
    ("needed", "expected"),
    [({"anglais": 1}, "bilingue"), ({"anglais": 3}, "expert"), ({}, "generaliste")],
)
def test_skills_with_levels_choose_the_agent(needed: dict[str, int], expected: str) -> None:
    """A call needing a skill at a level only reaches agents holding it at that level."""
    spec = _spec(
        [
            ("generaliste", {"75-main": 0}, {}),
            ("bilingue", {"75-main": 0}, {"anglais": 2}),
            ("expert", {"75-main": 0}, {"anglais": 3}),
        ]
    )
    d = Driver(Engine(spec))
    login(d, "generaliste", "bilingue", "expert")
    offer = only_offer(arrive(d, 1, skills=tuple(needed.items()), after=1))
    assert offer.agent == aid(expected)


def test_call_needing_a_missing_skill_waits_while_others_are_served() -> None:
    """A call no free agent can take does not block the calls behind it."""
    spec = _spec([("generaliste", {"75-main": 0}, {})])
    d = Driver(Engine(spec))
    arrive(d, 1, skills=(("pediatrie", 1),))
    arrive(d, 2, after=1)
    assert only_offer(login(d, "generaliste")).call == cid(2)


def test_same_priority_calls_are_served_in_arrival_order(driver: Driver) -> None:
    """Within a queue and a priority class, first come, first served."""
    for n in range(5):
        arrive(driver, n, after=1)
    offer = only_offer(login(driver, "75-a0"))
    served = []
    while True:
        served.append(offer.call)
        answer(driver, offer)
        out = driver.send(ev.CallHungUp(call=offer.call), after=5)
        if not offers(out):
            break
        offer = only_offer(out)
    assert served == [cid(n) for n in range(5)]


def test_higher_priority_goes_first_but_ageing_lets_a_long_wait_win(driver: Driver) -> None:
    """A 'vitale' call (120 s head start) passes a normal call that waited less than 120 s."""
    arrive(driver, "old", priority="normal")
    arrive(driver, "urgent", priority="vitale", after=60)
    assert only_offer(login(driver, "75-a0")).call == cid("urgent")
    arrive(driver, "late-urgent", priority="vitale", after=100)
    # "old" has waited 161 s, "late-urgent" 0 s + 120 s head start: "old" goes first.
    assert only_offer(login(driver, "75-a1")).call == cid("old")
