"""The dialplan contract read as core events, and core commands written as AMI actions."""

from __future__ import annotations

import pytest

from acd.ami.frames import Frame
from acd.ami.translate import (
    Translator,
    fallback_actions,
    heartbeat_action,
    offer_actions,
    overflow_actions,
)
from acd.core import events as ev
from acd.core.commands import OfferCall, OverflowCall, Reason, SendToFallback
from acd.core.ids import AgentId, CallId, RouteId

SNAPSHOT = [
    ("Privilege", "user,all"),
    ("Channel", "PJSIP/trunk-0000001a"),
    ("ChannelState", "6"),
    ("ChannelStateDesc", "Up"),
    ("CallerIDNum", "0612345678"),
    ("CallerIDName", "José"),
    ("Context", "acd-inbound"),
    ("Exten", "s"),
    ("Priority", "7"),
    ("Uniqueid", "1795923779.29"),
    ("Linkedid", "1795923779.29"),
    ("ChanVariable", "ACD_STATE=waiting"),
    ("ChanVariable", "ACD_DEPT=75"),
]


def user_event(name: str, *fields: tuple[str, str]) -> Frame:
    """A UserEvent frame laid out as Asterisk 20 sends it: snapshot, name, then keys."""
    return Frame.from_pairs([("Event", "UserEvent"), *SNAPSHOT, ("UserEvent", name), *fields])


CALL = CallId("pbx1/1795923779.29")


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            user_event(
                "ACDWaiting",
                ("Dept", "75"),
                ("Prio", "vitale"),
                ("EnqTs", "1795923779"),
                ("CallerNum", "0612345678"),
            ),
            ev.CallArrived(
                call=CALL,
                dept="75",  # type: ignore[arg-type]
                priority="vitale",
                enqueued_at=1795923779.0,
                caller="0612345678",
            ),
        ),
        (
            user_event("ACDRouted", ("RouteId", "r7"), ("Target", "PJSIP/75-a0")),
            ev.RouteConfirmed(call=CALL, route=RouteId("r7")),
        ),
        (
            user_event("ACDRouteFailed", ("RouteId", "r7"), ("DialStatus", "NOANSWER")),
            ev.RouteFailed(call=CALL, route=RouteId("r7"), cause=ev.RouteFailure.NO_ANSWER),
        ),
        (
            user_event("ACDRouteFailed", ("RouteId", "r7"), ("DialStatus", "CHANUNAVAIL")),
            ev.RouteFailed(call=CALL, route=RouteId("r7"), cause=ev.RouteFailure.UNAVAILABLE),
        ),
        (
            user_event("ACDFallback", ("Dept", "75"), ("Reason", "heartbeat-stale")),
            ev.CallFellBack(call=CALL),
        ),
        (user_event("ACDHangup", ("State", "waiting")), ev.CallHungUp(call=CALL)),
        (
            user_event("ACDOverflowFailed", ("RouteId", "r9"), ("DialStatus", "BUSY")),
            ev.OverflowFailed(call=CALL, route=RouteId("r9"), cause=ev.RouteFailure.BUSY),
        ),
    ],
)
def test_contract_user_events_become_core_events(frame: Frame, expected: ev.Event) -> None:
    """Each UserEvent of the contract maps to its core event on the caller's channel."""
    assert Translator("pbx1").events(frame) == [expected]


def test_answer_is_read_from_the_agent_channel_with_the_caller_uniqueid() -> None:
    """ACDAnswered runs on the ARM's channel and names the caller by CallerUniqueid."""
    frame = user_event("ACDAnswered", ("CallerUniqueid", "1795923779.10"), ("RouteId", "r3"))
    [event] = Translator("pbx1").events(frame)
    assert event == ev.CallAnswered(call=CallId("pbx1/1795923779.10"), route=RouteId("r3"))


def test_hangup_of_a_caller_channel_is_read_and_others_are_not() -> None:
    """A Hangup carrying ACD_DEPT is a caller leaving; an ARM's Hangup is not a call event."""
    caller = Frame.from_pairs([("Event", "Hangup"), *SNAPSHOT, ("Cause", "0")])
    agent = Frame.from_pairs([("Event", "Hangup"), ("Uniqueid", "9.1"), ("Cause", "16")])
    t = Translator("pbx1")
    assert t.events(caller) == [ev.CallHungUp(call=CALL)]
    assert t.events(agent) == []


@pytest.mark.parametrize(
    "frame",
    [
        user_event("ACDWaiting", ("Prio", "normal")),  # no Dept
        user_event("ACDRouted"),  # no RouteId
        Frame.from_pairs([("Event", "UserEvent"), ("UserEvent", "ACDRouted"), ("RouteId", "r")]),
    ],
)
def test_unreadable_contract_events_are_counted_not_raised(frame: Frame) -> None:
    """A contract event missing what it needs gives no event and is counted."""
    t = Translator("pbx1")
    assert t.events(frame) == []
    assert t.unreadable == 1


def test_foreign_and_noise_events_give_nothing() -> None:
    """VarSet, Newexten and other applications' UserEvents are not for the core."""
    t = Translator("pbx1")
    for frame in (
        Frame.from_pairs([("Event", "VarSet"), ("Channel", "none"), ("Uniqueid", "none")]),
        Frame.from_pairs([("Event", "Newexten"), *SNAPSHOT]),
        user_event("SomethingElse"),
        user_event("ACDRouteRefused", ("RouteId", "r1"), ("State", "fallback")),
        user_event("ACDRouteFailed", ("RouteId", "r1"), ("DialStatus", "CANCEL")),
    ):
        assert t.events(frame) == []
    assert t.unreadable == 0


def _names(actions: list[object]) -> list[tuple[str, ...]]:
    return [(a.name, *(f"{k}={v}" for k, v in a.fields)) for a in actions]  # type: ignore[attr-defined]


def test_offer_is_setvars_then_one_redirect_by_uniqueid() -> None:
    """An offer addresses the caller by Uniqueid: two Setvar then one Redirect, in order."""
    cmd = OfferCall(
        call=CALL,
        route=RouteId("r7"),
        agent=AgentId("75-a0"),
        endpoint="PJSIP/75-a0",
        ring_timeout_s=20,
        reason=Reason(rule="strategy:longest-idle"),
    )
    assert _names(offer_actions(cmd)) == [
        ("Setvar", "Channel=1795923779.29", "Variable=ACD_TARGET", "Value=PJSIP/75-a0"),
        ("Setvar", "Channel=1795923779.29", "Variable=ACD_RING_TIMEOUT", "Value=20"),
        ("Setvar", "Channel=1795923779.29", "Variable=ACD_ROUTE_ID", "Value=r7"),
        ("Redirect", "Channel=1795923779.29", "Context=acd-dispatch", "Exten=s", "Priority=1"),
    ]


@pytest.mark.parametrize(
    ("trunk", "target"),
    [("PJSIP/trunk", "PJSIP/trunk/0344000000"), ("PJSIP/{number}@op", "PJSIP/0344000000@op")],
)
def test_overflow_dials_the_partner_number_over_the_trunk(trunk: str, target: str) -> None:
    """The partner's number goes into the trunk's dial string, then Redirect to overflow."""
    cmd = OverflowCall(
        call=CALL,
        route=RouteId("r9"),
        partner="samu-60",
        number="0344000000",
        trunk=trunk,
        reason=Reason(rule="overflow-rule:x"),
    )
    names = _names(overflow_actions(cmd))
    assert names[0][-1] == f"Value={target}"
    assert names[-1][:3] == ("Redirect", "Channel=1795923779.29", "Context=acd-overflow")


def test_fallback_tells_the_reason_and_redirects_to_the_static_fallback() -> None:
    """A middleware fallback sets ACD_FALLBACK_REASON, then redirects to acd-fallback."""
    cmd = SendToFallback(call=CALL, route=RouteId("r2"), reason=Reason(rule="limit:max-wait"))
    names = _names(fallback_actions(cmd))
    assert names[0][-1] == "Value=limit:max-wait"
    assert names[-1][2] == "Context=acd-fallback"


def test_heartbeat_is_a_global_setvar_in_whole_seconds() -> None:
    """The heartbeat has no Channel (a global) and whole epoch seconds like ${EPOCH}."""
    assert _names([heartbeat_action(1795923779.8)]) == [
        ("Setvar", "Variable=ACD_HEARTBEAT", "Value=1795923779")
    ]


@pytest.mark.parametrize("status", ["INVALIDARGS", "DONTCALL", ""])
def test_other_dial_statuses_count_as_an_unreachable_phone(status: str) -> None:
    """A DIALSTATUS outside the usual ones holds the phone back instead of being dropped."""
    frame = user_event("ACDRouteFailed", ("RouteId", "r1"), ("DialStatus", status))
    [event] = Translator("pbx1").events(frame)
    assert event == ev.RouteFailed(
        call=CALL, route=RouteId("r1"), cause=ev.RouteFailure.UNAVAILABLE
    )


def test_hangup_after_an_answer_proves_the_answer_if_it_was_missed() -> None:
    """ACDHangup routing:<route> + ANSWER: an answered call, never counted as abandoned."""
    frame = user_event(
        "ACDHangup", ("State", "routing:r7"), ("RouteId", "r7"), ("DialStatus", "ANSWER")
    )
    assert Translator("pbx1").events(frame) == [
        ev.CallAnswered(call=CALL, route=RouteId("r7")),
        ev.CallHungUp(call=CALL),
    ]


def test_waiting_caller_may_name_its_queue() -> None:
    """ACD_QUEUE set by the DID reaches the engine; empty means the SAMU's first queue."""
    named = user_event("ACDWaiting", ("Dept", "75"), ("Queue", "75-anglais"), ("EnqTs", "1"))
    plain = user_event("ACDWaiting", ("Dept", "75"), ("Queue", ""), ("EnqTs", "1"))
    [a] = Translator("pbx1").events(named)
    [b] = Translator("pbx1").events(plain)
    assert isinstance(a, ev.CallArrived)
    assert isinstance(b, ev.CallArrived)
    assert (a.queue, b.queue) == ("75-anglais", None)
