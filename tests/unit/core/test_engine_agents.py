"""Agents' life cycle: login, pauses, ring-no-answer, busy phones, pending changes."""

from __future__ import annotations

import pytest

from acd.core import events as ev
from acd.core.engine import Engine
from acd.core.ids import DeptId, QueueId
from acd.core.states import AgentState, CallState
from acd.core.testing import Driver, simple_spec

from .helpers import agent_records, aid, answer, arrive, cid, hang_up, login, no_offer, only_offer

Q = QueueId("75-main")


def test_ring_no_answer_requeues_at_the_head_and_pauses_the_agent(driver: Driver) -> None:
    """The unanswered call goes back first in line; the agent is paused 'no-answer'."""
    login(driver, "75-a0")
    first = only_offer(arrive(driver, 1))
    arrive(driver, 2, after=1)
    out = driver.send(
        ev.RouteFailed(call=first.call, route=first.route, cause=ev.RouteFailure.NO_ANSWER),
        after=19,
    )
    agent = driver.engine.agent(aid("75-a0"))
    assert (agent.state, agent.pause_reason) == (AgentState.PAUSED, "no-answer")
    assert [c.id for c in driver.engine.waiting_calls(Q)] == [cid(1), cid(2)]
    assert agent_records(out)[-1].pause_reason == "no-answer"
    again = only_offer(login(driver, "75-a1"))
    assert again.call == cid(1)
    assert again.route != first.route


def test_no_answer_pause_can_end_by_itself() -> None:
    """With an automatic unpause delay, the no-answer pause ends on its own."""
    d = Driver(Engine(simple_spec(engine={"no_answer_pause_s": 30.0})))
    login(d, "75-a0")
    offer = only_offer(arrive(d, 1))
    d.send(ev.RouteFailed(call=offer.call, route=offer.route, cause=ev.RouteFailure.NO_ANSWER))
    out = d.advance(d.now + 30)
    assert only_offer(out).call == cid(1)


def test_no_answer_without_pause_holds_the_agent_back_before_ringing_again() -> None:
    """When no-answer pausing is off, the agent is not rung again before the retry delay."""
    d = Driver(Engine(simple_spec(agents_per_dept=1, engine={"no_answer_pause": False})))
    login(d, "75-a0")
    offer = only_offer(arrive(d, 1))
    out = d.send(
        ev.RouteFailed(call=offer.call, route=offer.route, cause=ev.RouteFailure.NO_ANSWER)
    )
    no_offer(out)
    assert d.engine.agent(aid("75-a0")).state is AgentState.AVAILABLE
    no_offer(d.advance(d.now + 9.9))
    assert only_offer(d.advance(d.now + 0.2)).agent == aid("75-a0")


@pytest.mark.parametrize(
    "cause", [ev.RouteFailure.BUSY, ev.RouteFailure.UNAVAILABLE, ev.RouteFailure.CONGESTION]
)
def test_busy_or_unreachable_phone_is_skipped_and_the_call_goes_to_another(
    driver: Driver, cause: ev.RouteFailure
) -> None:
    """A phone that answers busy is held back; the caller is offered to the next agent."""
    login(driver, "75-a0", "75-a1")
    offer = only_offer(arrive(driver, 1))
    out = driver.send(ev.RouteFailed(call=offer.call, route=offer.route, cause=cause), after=1)
    retry = only_offer(out)
    assert (retry.call, retry.agent) == (cid(1), aid("75-a1"))
    assert driver.engine.agent(offer.agent).state is AgentState.AVAILABLE
    assert driver.engine.agent(offer.agent).backoff


def test_refused_route_goes_to_another_agent_not_back_to_the_same_phone(
    driver: Driver,
) -> None:
    """A route refused or found failed is not retried at once on the same phone."""
    login(driver, "75-a0", "75-a1")
    offer = only_offer(arrive(driver, 1))
    out = driver.send(
        ev.RouteFailed(call=offer.call, route=offer.route, cause=ev.RouteFailure.REFUSED)
    )
    assert only_offer(out).agent == aid("75-a1")
    assert driver.engine.agent(offer.agent).backoff


def test_a_chosen_pause_cancels_the_automatic_end_of_a_no_answer_pause() -> None:
    """Paused 'no-answer' then 'repas': the no-answer auto-unpause no longer applies."""
    d = Driver(Engine(simple_spec(agents_per_dept=1, engine={"no_answer_pause_s": 30.0})))
    login(d, "75-a0")
    offer = only_offer(arrive(d, 1))
    d.send(ev.RouteFailed(call=offer.call, route=offer.route, cause=ev.RouteFailure.NO_ANSWER))
    d.send(ev.AgentPaused(agent=aid("75-a0"), reason="repas"), after=5)
    no_offer(d.advance(d.now + 60))
    agent = d.engine.agent(aid("75-a0"))
    assert (agent.state, agent.pause_reason) == (AgentState.PAUSED, "repas")


def test_pause_asked_while_ringing_survives_a_ring_no_answer() -> None:
    """The ARM asked a pause while the phone rang: it is that pause, not 'no-answer'."""
    d = Driver(Engine(simple_spec(agents_per_dept=1, engine={"no_answer_pause_s": 30.0})))
    login(d, "75-a0")
    offer = only_offer(arrive(d, 1))
    d.send(ev.AgentPaused(agent=aid("75-a0"), reason="repas"))
    d.send(ev.RouteFailed(call=offer.call, route=offer.route, cause=ev.RouteFailure.NO_ANSWER))
    no_offer(d.advance(d.now + 60))
    agent = d.engine.agent(aid("75-a0"))
    assert (agent.state, agent.pause_reason) == (AgentState.PAUSED, "repas")


def test_device_busy_agent_is_not_offered_until_free(driver: Driver) -> None:
    """A phone reported in use by the PBX is skipped; the call rings when it is free."""
    login(driver, "75-a0")
    driver.send(ev.AgentDeviceChanged(agent=aid("75-a0"), busy=True))
    no_offer(arrive(driver, 1))
    out = driver.send(ev.AgentDeviceChanged(agent=aid("75-a0"), busy=False), after=3)
    assert only_offer(out).call == cid(1)


def test_pause_during_a_call_takes_effect_when_the_call_ends(driver: Driver) -> None:
    """A pause asked on a call is pending; the agent is paused at the end, no wrap-up."""
    login(driver, "75-a0")
    answer(driver, only_offer(arrive(driver, 1)))
    assert driver.send(ev.AgentPaused(agent=aid("75-a0"), reason="repas")) == []
    assert driver.engine.agent(aid("75-a0")).pending_pause == "repas"
    hang_up(driver, 1, after=30)
    agent = driver.engine.agent(aid("75-a0"))
    assert (agent.state, agent.pause_reason) == (AgentState.PAUSED, "repas")


def test_logout_during_a_call_takes_effect_when_the_call_ends(driver: Driver) -> None:
    """A logout asked on a call is pending; the agent leaves when the call ends."""
    login(driver, "75-a0")
    answer(driver, only_offer(arrive(driver, 1)))
    driver.send(ev.AgentLoggedOut(agent=aid("75-a0")))
    assert driver.engine.agent(aid("75-a0")).state is AgentState.ON_CALL
    hang_up(driver, 1, after=30)
    assert driver.engine.agent(aid("75-a0")).state is AgentState.LOGGED_OUT


def test_paused_agent_is_not_offered_and_unpause_offers_the_waiting_call(
    driver: Driver,
) -> None:
    """Pause keeps calls away; unpause makes the agent available and rings the caller."""
    login(driver, "75-a0")
    driver.send(ev.AgentPaused(agent=aid("75-a0"), reason="formation"))
    no_offer(arrive(driver, 1))
    assert driver.engine.agent(aid("75-a0")).pause_reason == "formation"
    assert only_offer(driver.send(ev.AgentUnpaused(agent=aid("75-a0")))).call == cid(1)


def test_pause_during_wrapup_pauses_at_once(driver: Driver) -> None:
    """A pause in wrap-up applies immediately; the wrap-up end then does nothing."""
    d = Driver(Engine(simple_spec(queue={"wrapup_s": 10.0})))
    login(d, "75-a0")
    answer(d, only_offer(arrive(d, 1)))
    hang_up(d, 1, after=10)
    d.send(ev.AgentPaused(agent=aid("75-a0"), reason="debrief"))
    d.advance(d.now + 20)
    assert d.engine.agent(aid("75-a0")).state is AgentState.PAUSED


def test_repeated_login_and_logout_are_idempotent(driver: Driver) -> None:
    """Logging in twice or out twice changes nothing the second time."""
    login(driver, "75-a0")
    assert login(driver, "75-a0") == []
    driver.send(ev.AgentLoggedOut(agent=aid("75-a0")))
    assert driver.send(ev.AgentLoggedOut(agent=aid("75-a0"))) == []


def test_agents_by_state_follow_every_move(driver: Driver) -> None:
    """The department's agent counts by state follow logins, offers and calls."""
    login(driver, "75-a0", "75-a1")
    answer(driver, only_offer(arrive(driver, 1)))
    stats = driver.engine.dept_stats(DeptId("75"), driver.now)
    assert stats.agents_by_state[AgentState.ON_CALL] == 1
    assert stats.available_agents == 1
    assert (stats.serving_agents, stats.logged_in_agents) == (2, 2)
    assert driver.engine.call_state(cid(1)) is CallState.CONNECTED
