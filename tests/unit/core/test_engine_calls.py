"""A call's way through the engine: queued, offered, answered, ended, abandoned, limits."""

from __future__ import annotations

import pytest

from acd.core import events as ev
from acd.core.commands import VerifyRoute
from acd.core.engine import Engine
from acd.core.errors import DuplicateCall, IllegalTransition, UnknownCall, UnknownQueue
from acd.core.ids import DeptId, QueueId, RouteId
from acd.core.states import AgentState, CallState
from acd.core.testing import Driver, offers, simple_spec

from .helpers import (
    aid,
    answer,
    arrive,
    call_records,
    cid,
    fallbacks,
    hang_up,
    login,
    no_offer,
    only_offer,
)


def test_call_waits_when_no_agent_is_available(driver: Driver) -> None:
    """With nobody logged in (join-empty allowed) the call is queued, not offered."""
    out = arrive(driver, 1)
    no_offer(out)
    assert driver.engine.call_state(cid(1)) is CallState.WAITING
    assert [c.id for c in driver.engine.waiting_calls(QueueId("75-main"))] == [cid(1)]


def test_call_is_offered_to_an_available_agent_with_its_endpoint(driver: Driver) -> None:
    """An arriving call rings a free agent's phone, with a route id and a reason."""
    login(driver, "75-a0")
    offer = only_offer(arrive(driver, 1, after=1))
    assert offer.agent == aid("75-a0")
    assert offer.endpoint == "PJSIP/75-a0"
    assert offer.ring_timeout_s == 20.0
    assert offer.reason.rule == "strategy:longest-idle"
    assert offer.reason.get("allowed_penalty") == 0
    assert driver.engine.agent(aid("75-a0")).state is AgentState.OFFERED


def test_waiting_call_is_offered_when_an_agent_logs_in(driver: Driver) -> None:
    """A queued caller is rung as soon as an agent becomes available."""
    arrive(driver, 1)
    offer = only_offer(login(driver, "75-a1"))
    assert (offer.call, offer.agent) == (cid(1), aid("75-a1"))


def test_answer_connects_and_hangup_ends_with_wrapup() -> None:
    """Answer puts caller and agent on call; the end starts the queue's wrap-up."""
    d = Driver(Engine(simple_spec(queue={"wrapup_s": 15.0})))
    login(d, "75-a0")
    offer = only_offer(arrive(d, 1))
    answer(d, offer)
    assert d.engine.call_state(cid(1)) is CallState.CONNECTED
    assert d.engine.agent(aid("75-a0")).state is AgentState.ON_CALL
    hang_up(d, 1, after=60)
    assert d.engine.call_state(cid(1)) is CallState.ENDED
    assert d.engine.agent(aid("75-a0")).state is AgentState.WRAPUP
    d.advance(d.now + 14.9)
    assert d.engine.agent(aid("75-a0")).state is AgentState.WRAPUP
    d.advance(d.now + 0.2)
    assert d.engine.agent(aid("75-a0")).state is AgentState.AVAILABLE


def test_agent_wrapup_overrides_the_queue_wrapup() -> None:
    """An agent's own wrap-up time wins over the queue's."""
    spec = simple_spec(queue={"wrapup_s": 15.0})
    agents = (spec.agents[0].__class__(**{**_fields(spec.agents[0]), "wrapup_s": 3.0}),)
    d = Driver(Engine(spec.__class__(**{**_fields(spec), "agents": agents})))
    login(d, "75-a0")
    answer(d, only_offer(arrive(d, 1)))
    hang_up(d, 1, after=10)
    d.advance(d.now + 3.1)
    assert d.engine.agent(aid("75-a0")).state is AgentState.AVAILABLE


def _fields(obj: object) -> dict[str, object]:
    return {f: getattr(obj, f) for f in obj.__dataclass_fields__}  # type: ignore[attr-defined]


def test_caller_hanging_up_while_waiting_is_abandoned_and_counted(driver: Driver) -> None:
    """A waiting caller who hangs up is an abandoned call; short ones are counted apart."""
    arrive(driver, 1)
    arrive(driver, 2)
    hang_up(driver, 1, after=2)  # under the 5 s short-abandon threshold
    hang_up(driver, 2, after=30)
    stats = driver.engine.dept_stats(DeptId("75"), driver.now)
    assert (stats.short_abandoned, stats.abandoned, stats.waiting) == (1, 1, 0)
    assert driver.engine.call_state(cid(1)) is CallState.ABANDONED


def test_caller_hanging_up_while_ringing_frees_the_agent(driver: Driver) -> None:
    """An offered call abandoned by the caller releases the agent at once, no wrap-up."""
    login(driver, "75-a0")
    only_offer(arrive(driver, 1))
    hang_up(driver, 1, after=8)
    assert driver.engine.call_state(cid(1)) is CallState.ABANDONED
    assert driver.engine.agent(aid("75-a0")).state is AgentState.AVAILABLE


def test_hangup_of_an_ended_call_is_ignored(driver: Driver) -> None:
    """A duplicate or late hangup changes nothing (hangup is terminal and idempotent)."""
    arrive(driver, 1)
    hang_up(driver, 1)
    assert hang_up(driver, 1, after=1) == []


def test_unknown_call_raises_unknown_call(driver: Driver) -> None:
    """An event about a call never seen raises with the unknown-call slug."""
    with pytest.raises(UnknownCall) as err:
        hang_up(driver, 99)
    assert err.value.slug == "unknown-call"


def test_duplicate_arrival_raises_and_keeps_the_first(driver: Driver) -> None:
    """A second arrival with the same identity is rejected; the first call keeps its place."""
    arrive(driver, 1)
    with pytest.raises(DuplicateCall):
        arrive(driver, 1, after=5)
    assert driver.engine.waiting_calls(QueueId("75-main"))[0].arrived_at == 1_000_000.0


def test_arrival_of_an_already_ended_call_is_ignored(driver: Driver) -> None:
    """A replayed arrival of a call that ended (e.g. after a resync) is not queued again."""
    arrive(driver, 1)
    hang_up(driver, 1)
    assert arrive(driver, 1, after=1) == []
    assert driver.engine.waiting_calls(QueueId("75-main")) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dept": "99"}, "unknown department '99'"),
        ({"queue": QueueId("92-main")}, "is not a queue of department '75'"),
    ],
)
def test_arrival_for_an_unknown_department_or_queue_raises(
    driver: Driver, kwargs: dict[str, object], message: str
) -> None:
    """A call for a department or queue not in the configuration raises unknown-queue."""
    with pytest.raises(UnknownQueue, match=message):
        arrive(driver, 1, **kwargs)  # type: ignore[arg-type]
    assert driver.engine.calls == {}


def test_unknown_priority_falls_back_to_the_default_class_and_says_so(driver: Driver) -> None:
    """A priority the configuration does not know never loses the call: default class."""
    out = arrive(driver, 1, priority="inconnue")
    assert driver.engine.waiting_calls(QueueId("75-main"))[0].priority == "normal"
    assert call_records(out)[0].reason.get("unknown_priority") == "inconnue"


def test_adopted_call_keeps_its_original_enqueue_time(driver: Driver) -> None:
    """A call adopted after a resync keeps the PBX's enqueue time, hence its place."""
    arrive(driver, 1)
    arrive(driver, 2, enqueued_at=driver.now - 100, after=1)
    order = [c.id for c in driver.engine.waiting_calls(QueueId("75-main"))]
    assert order == [cid(2), cid(1)]


def test_call_fallback_from_the_dialplan_stops_routing(driver: Driver) -> None:
    """ACDFallback ends the call as fallback; it is no longer offered."""
    arrive(driver, 1)
    driver.send(ev.CallFellBack(call=cid(1)))
    no_offer(login(driver, "75-a0"))
    assert driver.engine.call_state(cid(1)) is CallState.FALLBACK
    assert driver.engine.dept_stats(DeptId("75"), driver.now).fallback == 1


def test_fallback_while_offered_releases_the_agent(driver: Driver) -> None:
    """A fallback for a call the engine thought was ringing frees that agent."""
    login(driver, "75-a0")
    only_offer(arrive(driver, 1))
    out = driver.send(ev.CallFellBack(call=cid(1)), after=25)
    assert [r.state for r in call_records(out)] == [CallState.WAITING, CallState.FALLBACK]
    assert driver.engine.agent(aid("75-a0")).state is AgentState.AVAILABLE


def test_stale_route_events_are_ignored(driver: Driver) -> None:
    """Confirmation, answer or failure naming an old route id changes nothing."""
    login(driver, "75-a0")
    offer = only_offer(arrive(driver, 1))
    stale = RouteId("r-old")
    assert driver.send(ev.RouteConfirmed(call=offer.call, route=stale)) == []
    assert driver.send(ev.CallAnswered(call=offer.call, route=stale)) == []
    assert (
        driver.send(ev.RouteFailed(call=offer.call, route=stale, cause=ev.RouteFailure.BUSY)) == []
    )
    assert driver.engine.call_state(cid(1)) is CallState.OFFERED


def test_unconfirmed_offer_is_verified_never_resent(driver: Driver) -> None:
    """An offer with no outcome past ring timeout + guard asks the PBX, and asks again."""
    login(driver, "75-a0")
    offer = only_offer(arrive(driver, 1))
    out = driver.advance(driver.now + 20 + 5)
    checks = [c for c in out if isinstance(c, VerifyRoute)]
    assert [(c.call, c.route) for c in checks] == [(offer.call, offer.route)]
    out = driver.advance(driver.now + 5)
    assert len([c for c in out if isinstance(c, VerifyRoute)]) == 1
    assert len(offers(driver.log)) == 1  # the first offer only: nothing was resent


@pytest.mark.parametrize(
    ("queue", "setup", "rule"),
    [
        ({"join_empty": False}, [], "limit:join-empty"),
        ({"max_length": 1}, [1], "limit:max-length"),
    ],
)
def test_queue_limits_send_new_callers_to_fallback_with_their_reason(
    queue: dict[str, object], setup: list[int], rule: str
) -> None:
    """A limit broken on arrival sends the caller to the dialplan fallback, saying which."""
    d = Driver(Engine(simple_spec(queue=queue)))
    for n in setup:
        arrive(d, n)
    out = arrive(d, 100, after=1)
    [fb] = fallbacks(out)
    assert fb.reason.rule == rule
    assert d.engine.call_state(cid(100)) is CallState.FALLBACK
    assert [r.state for r in call_records(out)] == [CallState.WAITING, CallState.FALLBACK]


def test_max_wait_sends_the_caller_to_fallback_when_it_expires() -> None:
    """A caller still waiting at max_wait is handed to the fallback at that moment."""
    d = Driver(Engine(simple_spec(queue={"max_wait_s": 120.0})))
    arrive(d, 1)
    assert fallbacks(d.advance(d.now + 119.9)) == []
    [fb] = fallbacks(d.advance(d.now + 0.2))
    assert fb.reason.rule == "limit:max-wait"
    assert fb.reason.get("max_wait_s") == 120.0


def test_leave_empty_sends_waiting_callers_to_fallback_when_the_last_agent_leaves() -> None:
    """With leave_empty, the last logout hands every waiting caller to the fallback."""
    d = Driver(Engine(simple_spec(agents_per_dept=1, queue={"leave_empty": True})))
    login(d, "75-a0")
    d.send(ev.AgentPaused(agent=aid("75-a0"), reason="pause"))
    arrive(d, 1)
    arrive(d, 2)
    out = d.send(ev.AgentLoggedOut(agent=aid("75-a0")), after=1)
    assert sorted(fb.call for fb in fallbacks(out)) == [cid(1), cid(2)]
    assert all(fb.reason.rule == "limit:leave-empty" for fb in fallbacks(out))


def test_illegal_move_raises_and_changes_nothing(driver: Driver) -> None:
    """Pausing a logged-out agent is illegal: it raises and the agent stays logged out."""
    with pytest.raises(IllegalTransition):
        driver.send(ev.AgentPaused(agent=aid("75-a0"), reason="x"))
    assert driver.engine.agent(aid("75-a0")).state is AgentState.LOGGED_OUT
    assert (
        driver.engine.dept_stats(DeptId("75"), driver.now).agents_by_state[AgentState.LOGGED_OUT]
        == 2
    )
