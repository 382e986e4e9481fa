"""Resync after a reconnect: gone calls end, unknown waiting callers are adopted, doubts settle."""

from __future__ import annotations

import pytest

from acd.ami.translate import route_truth
from acd.core import events as ev
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId, DeptId, RouteId
from acd.core.states import CallState
from acd.core.testing import offers, simple_spec
from acd.ports import ChannelSnapshot
from acd.runtime.resync import resync_events, stranded_fallbacks

NOW = 1_780_000_000.0


def snap(uid: str, state: str = "waiting", *, bridged: bool = False) -> ChannelSnapshot:
    """A caller channel of department 75 as CoreShowChannels shows it."""
    return ChannelSnapshot(
        uniqueid=uid,
        dept="75",
        priority="normal",
        enqueued_at=NOW - 90,
        state=state,
        bridged=bridged,
    )


def test_calls_gone_from_the_pbx_end_and_unknown_waiting_callers_are_adopted() -> None:
    """A known call missing from the PBX hangs up; an unknown waiting one joins at its time."""
    engine = Engine(simple_spec())
    engine.handle(ev.CallArrived(call=CallId("pbx1/1"), dept=DeptId("75")), NOW)
    events = resync_events("pbx1", engine.live_calls(), [snap("2")])
    assert events == [
        ev.CallHungUp(call=CallId("pbx1/1")),
        ev.CallArrived(
            call=CallId("pbx1/2"), dept=DeptId("75"), priority="normal", enqueued_at=NOW - 90
        ),
    ]


def test_other_pbx_calls_are_left_alone() -> None:
    """A resync of pbx2 never ends a call of pbx1."""
    engine = Engine(simple_spec())
    engine.handle(ev.CallArrived(call=CallId("pbx1/1"), dept=DeptId("75")), NOW)
    assert resync_events("pbx2", engine.live_calls(), []) == []


def test_channels_in_fallback_or_routing_are_not_adopted() -> None:
    """Only callers waiting in the loop are adopted; the others belong to the dialplan now."""
    engine = Engine(simple_spec())
    channels = [snap("3", "fallback"), snap("4", "routing:r9")]
    assert resync_events("pbx1", engine.live_calls(), channels) == []


@pytest.mark.parametrize(
    ("state", "bridged", "expected"),
    [
        ("routing:r1", True, CallState.CONNECTED),
        ("routing:r1", False, CallState.OFFERED),
        ("waiting", False, CallState.WAITING),  # back at its place; that phone rests
        ("fallback", False, CallState.FALLBACK),
    ],
)
def test_an_offer_in_doubt_is_settled_by_the_channel_state(
    state: str, bridged: bool, expected: CallState
) -> None:
    """The offer made before the link dropped ends as the channel says, never resent."""
    engine = Engine(simple_spec())
    engine.handle(ev.AgentLoggedIn(agent=AgentId("75-a0")), NOW)
    [offer] = offers(engine.handle(ev.CallArrived(call=CallId("pbx1/1"), dept=DeptId("75")), NOW))
    assert offer.route == RouteId("r1")
    events = resync_events("pbx1", engine.live_calls(), [snap("1", state, bridged=bridged)])
    again = [o for e in events for o in offers(engine.handle(e, NOW + 5))]
    assert engine.call_state(CallId("pbx1/1")) is expected
    assert again == []


def test_route_truth_for_an_overflow_in_doubt() -> None:
    """An overflow bridged to the partner is confirmed; back in the loop, it failed."""
    call, route = CallId("pbx1/1"), RouteId("r4")
    assert route_truth(call, route, overflow=True, state="overflow:r4", bridged=True) == [
        ev.OverflowConfirmed(call=call, route=route)
    ]
    assert route_truth(call, route, overflow=True, state="overflow:r4", bridged=False) == []
    [failed] = route_truth(call, route, overflow=True, state="waiting", bridged=False)
    assert isinstance(failed, ev.OverflowFailed)


def test_route_truth_ignores_another_routes_state() -> None:
    """A channel routing under another route id proves nothing about this one."""
    call = CallId("pbx1/1")
    assert route_truth(call, RouteId("r1"), overflow=False, state="routing:r2", bridged=True) == []


def test_a_route_decided_after_the_snapshot_is_not_judged_by_it() -> None:
    """The channels were read before the offer: the caller shows 'waiting', no re-offer."""
    engine = Engine(simple_spec())
    before = frozenset[str]()
    engine.handle(ev.AgentLoggedIn(agent=AgentId("75-a0")), NOW)
    engine.handle(ev.CallArrived(call=CallId("pbx1/1"), dept=DeptId("75")), NOW)
    assert engine.call_state(CallId("pbx1/1")) is CallState.OFFERED
    assert resync_events("pbx1", engine.live_calls(), [snap("1")], before) == []
    assert resync_events("pbx1", engine.live_calls(), [snap("1")], frozenset({"r1"})) != []


def test_a_fallback_lost_with_the_link_is_found_again() -> None:
    """Ended as fallback by the engine but still waiting on the PBX: sent again."""
    engine = Engine(simple_spec(queue={"max_wait_s": 10.0}))
    engine.handle(ev.CallArrived(call=CallId("pbx1/1"), dept=DeptId("75")), NOW)
    engine.handle(ev.Tick(), NOW + 11)
    assert engine.call_state(CallId("pbx1/1")) is CallState.FALLBACK
    stranded = stranded_fallbacks("pbx1", [snap("1"), snap("2")], engine.call_state)
    assert stranded == [CallId("pbx1/1")]
    assert stranded_fallbacks("pbx1", [snap("1", "fallback")], engine.call_state) == []
