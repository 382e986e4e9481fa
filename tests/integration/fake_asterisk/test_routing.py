"""Safe redirect against the fake: dispatch, answer, the failures, refusals and overflow."""

from __future__ import annotations

import asyncio

import pytest

from acd.ami.frames import Frame
from connectors.asterisk.fake import FakeAsterisk
from tests.integration.fake_asterisk.conftest import SCALE, MakeFake
from tests.integration.fake_asterisk.support import AmiConn
from tests.integration.fake_asterisk.test_waiting import beat

ARM = "PJSIP/arm-7501"


async def waiting_caller(fake: FakeAsterisk, ami: AmiConn, patience_s: float | None = None) -> str:
    """A caller in the waiting loop, heartbeat fresh."""
    beat(fake)
    uniqueid = fake.add_caller("75", patience_s=patience_s)
    await ami.user_event("ACDWaiting", uniqueid)
    return uniqueid


async def offer(ami: AmiConn, uniqueid: str, target: str, route: str,
                context: str = "acd-dispatch") -> Frame:  # fmt: skip
    """Setvar ACD_TARGET, Setvar ACD_ROUTE_ID, Redirect: the middleware's safe redirect."""
    await ami.request(
        "Setvar", ("Channel", uniqueid), ("Variable", "ACD_TARGET"), ("Value", target)
    )
    await ami.request(
        "Setvar", ("Channel", uniqueid), ("Variable", "ACD_ROUTE_ID"), ("Value", route)
    )
    fields = [("Channel", uniqueid), ("Context", context), ("Exten", "s"), ("Priority", "1")]
    return await ami.request("Redirect", *fields)


def of(ami: AmiConn, uniqueid: str) -> list[str]:
    """The names of the events of one call (caller or callee side), UserEvents by their name."""
    names = []
    for f in ami.events():
        if uniqueid in (f.get("Uniqueid"), f.get("Linkedid"), f.get("CallerUniqueid")):
            names.append(f.get("UserEvent", "") if f.kind == "UserEvent" else f.kind)
    return names


@pytest.mark.asyncio
async def test_routed_call_is_answered_bridged_then_ends(fake: FakeAsterisk, ami: AmiConn) -> None:
    """ACDRouted, DialBegin, DialEnd ANSWER, ACDAnswered on the ARM's leg, bridge, ACDHangup."""
    fake.set_agent(ARM, answer_delay_s=1.0, talk_s=2.0)
    uniqueid = await waiting_caller(fake, ami)
    reply = await offer(ami, uniqueid, ARM, "r-1")
    assert reply.fields == (
        ("Response", "Success"), ("ActionID", reply.action_id), ("Message", "Redirect successful")
    )  # fmt: skip
    routed = await ami.user_event("ACDRouted", uniqueid)
    assert (routed.get("RouteId"), routed.get("Target")) == ("r-1", ARM)
    assert routed.chan_vars["ACD_STATE"] == "routing:r-1"
    answered = await ami.user_event("ACDAnswered")
    assert (answered.get("CallerUniqueid"), answered.get("RouteId")) == (uniqueid, "r-1")
    assert answered.get("Channel", "").startswith(f"{ARM}-")
    assert answered.get("Linkedid") == uniqueid
    h = await ami.user_event("ACDHangup", uniqueid)
    assert (h.get("State"), h.get("RouteId"), h.get("DialStatus")) == (
        "routing:r-1",
        "r-1",
        "ANSWER",
    )
    await ami.wait_for(lambda f: f.kind == "Hangup" and f.get("Uniqueid") == uniqueid)
    names = of(ami, uniqueid)
    flow = ["ACDRouted", "DialBegin", "DialEnd", "ACDAnswered", "BridgeEnter", "BridgeEnter",
            "ACDHangup", "Hangup"]  # fmt: skip
    positions = [names.index(n) for n in flow[:5]]
    assert positions == sorted(positions)
    assert names.count("BridgeEnter") == 2
    begin = ami.events("DialBegin")[0]
    assert begin.get("DestChannel") == answered.get("Channel")
    assert begin.get("DialString") == "arm-7501"
    assert begin.prefixed_chan_vars("Dest") == dict.fromkeys(fake.config.channelvars, "")
    assert ami.events("DialEnd")[0].get("DialStatus") == "ANSWER"
    stats = fake.stats()
    assert stats.answered == 1
    assert stats.redirects[uniqueid] == 1


@pytest.mark.asyncio
async def test_agent_not_answering_fails_back_to_the_waiting_loop(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """Ring timeout: DialEnd NOANSWER, ACDRouteFailed NOANSWER, same channel waiting again."""
    fake.set_global("ACD_RING_TIMEOUT", "3")
    fake.set_agent(ARM, answers=False)
    uniqueid = await waiting_caller(fake, ami)
    await offer(ami, uniqueid, ARM, "r-2")
    failed = await ami.user_event("ACDRouteFailed", uniqueid)
    assert (failed.get("RouteId"), failed.get("DialStatus")) == ("r-2", "NOANSWER")
    assert failed.chan_vars["ACD_STATE"] == "waiting"
    ends = [f.get("DialStatus") for f in ami.events("DialEnd")]
    assert ends == ["NOANSWER"]
    reply = await ami.request("Getvar", ("Channel", uniqueid), ("Variable", "ACD_STATE"))
    assert reply.get("Value") == "waiting"
    await asyncio.sleep(2.0 * SCALE)
    assert len(ami.events(user_event="ACDWaiting")) == 1
    assert fake.caller(uniqueid) is not None


@pytest.mark.asyncio
async def test_unregistered_phone_is_chanunavail_without_dial_events(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """CHANUNAVAIL: ACDRouteFailed at once, and no DialBegin/DialEnd at all."""
    fake.set_agent(ARM, registered=False)
    uniqueid = await waiting_caller(fake, ami)
    await offer(ami, uniqueid, ARM, "r-3")
    failed = await ami.user_event("ACDRouteFailed", uniqueid)
    assert failed.get("DialStatus") == "CHANUNAVAIL"
    assert ami.events("DialBegin") == []
    assert ami.events("DialEnd") == []


@pytest.mark.asyncio
async def test_phone_already_on_a_call_is_busy(fake: FakeAsterisk, ami: AmiConn) -> None:
    """A second call to a phone in conversation: DialBegin, DialEnd BUSY, ACDRouteFailed BUSY."""
    fake.set_agent(ARM, answer_delay_s=0.5, talk_s=60.0)
    first = await waiting_caller(fake, ami)
    await offer(ami, first, ARM, "r-4")
    await ami.user_event("ACDAnswered")
    second = await waiting_caller(fake, ami)
    await offer(ami, second, ARM, "r-5")
    failed = await ami.user_event("ACDRouteFailed", second)
    assert failed.get("DialStatus") == "BUSY"
    busy = [f for f in ami.events("DialEnd") if f.get("Uniqueid") == second]
    assert [f.get("DialStatus") for f in busy] == ["BUSY"]


@pytest.mark.asyncio
async def test_redirect_of_a_gone_channel_says_it_does_not_exist(ami: AmiConn) -> None:
    """Redirect of a missing channel: Error 'Channel does not exist: <what was sent>'."""
    fields = [("Channel", "1795923798.40"), ("Context", "acd-dispatch"), ("Exten", "s"),
              ("Priority", "1")]  # fmt: skip
    reply = await ami.request("Redirect", *fields)
    assert reply.get("Response") == "Error"
    assert reply.get("Message") == "Channel does not exist: 1795923798.40"


@pytest.mark.asyncio
async def test_redirect_of_a_dying_channel_fails_but_setvar_works(make_fake: MakeFake) -> None:
    """While hanging up, Redirect fails ('channel not up.') but Setvar still succeeds."""
    fake = await make_fake(hangup_linger_s=20.0)
    ami = await AmiConn.open(fake.port)
    await ami.login()
    uniqueid = await waiting_caller(fake, ami)
    fake.hangup_caller(uniqueid)
    fields = [("Channel", uniqueid), ("Variable", "ACD_TARGET"), ("Value", ARM)]
    assert (await ami.request("Setvar", *fields)).get("Message") == "Variable Set"
    fields = [("Channel", uniqueid), ("Context", "acd-dispatch"), ("Exten", "s")]
    reply = await ami.request("Redirect", *fields)
    assert reply.get("Message") == "Redirect failed, channel not up."
    await ami.wait_for(lambda f: f.kind == "Hangup" and f.get("Uniqueid") == uniqueid)
    assert fake.stats().redirects[uniqueid] == 0
    await ami.close()


@pytest.mark.asyncio
async def test_redirect_after_fallback_is_refused(fake: FakeAsterisk, ami: AmiConn) -> None:
    """A caller already in fallback: ACDRouteRefused, the caller back in the fallback queue."""
    uniqueid = fake.add_caller("75")
    await ami.user_event("ACDFallback", uniqueid)
    await offer(ami, uniqueid, ARM, "r-6")
    refused = await ami.user_event("ACDRouteRefused", uniqueid)
    assert (refused.get("RouteId"), refused.get("State")) == ("r-6", "fallback")
    assert ami.events("QueueCallerAbandon")
    await ami.wait_for(lambda f: len(ami.events(user_event="ACDFallback")) == 2)
    assert ami.events(user_event="ACDRouted") == []


@pytest.mark.asyncio
async def test_overflow_to_a_partner_is_answered(fake: FakeAsterisk, ami: AmiConn) -> None:
    """acd-overflow: ACDOverflowing, the trunk leg, then ACDOverflowAnswered."""
    trunk = "PJSIP/0344000000@trunk-operateur"
    fake.set_partner(trunk, accepts=True, answer_delay_s=1.0)
    uniqueid = await waiting_caller(fake, ami)
    fields = [("Channel", uniqueid), ("Variable", "ACD_PARTNER"), ("Value", "samu60")]
    await ami.request("Setvar", *fields)
    await offer(ami, uniqueid, trunk, "o-1", context="acd-overflow")
    going = await ami.user_event("ACDOverflowing", uniqueid)
    assert (going.get("RouteId"), going.get("Partner")) == ("o-1", "samu60")
    answered = await ami.user_event("ACDOverflowAnswered")
    assert answered.get("CallerUniqueid") == uniqueid
    assert answered.get("Channel", "").startswith("PJSIP/trunk-operateur-")
    assert fake.stats().overflowed == 1


@pytest.mark.asyncio
async def test_overflow_refused_by_the_partner_fails_back(fake: FakeAsterisk, ami: AmiConn) -> None:
    """The partner does not answer: ACDOverflowFailed NOANSWER, the caller waits again."""
    fake.set_global("ACD_OVERFLOW_TIMEOUT", "2")
    trunk = "PJSIP/0344000000@trunk-operateur"
    fake.set_partner(trunk, accepts=False)
    uniqueid = await waiting_caller(fake, ami)
    await offer(ami, uniqueid, trunk, "o-2", context="acd-overflow")
    failed = await ami.user_event("ACDOverflowFailed", uniqueid)
    assert (failed.get("RouteId"), failed.get("DialStatus")) == ("o-2", "NOANSWER")
    reply = await ami.request("Getvar", ("Channel", uniqueid), ("Variable", "ACD_STATE"))
    assert reply.get("Value") == "waiting"


@pytest.mark.asyncio
async def test_second_redirect_during_ringing_cancels_the_first(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """Redirect is not idempotent: a replay cuts the ringing Dial (CANCEL) and counts twice."""
    fake.set_agent(ARM, answer_delay_s=50.0)
    uniqueid = await waiting_caller(fake, ami)
    await offer(ami, uniqueid, ARM, "r-7")
    await ami.wait_for(lambda f: f.kind == "DialBegin")
    fields = [("Channel", uniqueid), ("Context", "acd-dispatch"), ("Exten", "s")]
    await ami.request("Redirect", *fields)
    await ami.wait_for(lambda f: f.kind == "DialEnd" and f.get("DialStatus") == "CANCEL")
    await ami.wait_for(lambda f: len(ami.events(user_event="ACDRouted")) == 2)
    stats = fake.stats()
    assert stats.redirects[uniqueid] == 2
    assert stats.repeated_routes() == {uniqueid: ["r-7"]}
    assert stats.interrupted_routes == 1
    redirects = [r for r in fake.actions("Redirect") if r.response == "Success"]
    assert [r.get("Channel") for r in redirects] == [uniqueid, uniqueid]


@pytest.mark.asyncio
async def test_hangup_action_ends_the_caller_with_its_cause(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """AMI Hangup: Channel Hungup, SoftHangupRequest, ACDHangup, Hangup with the cause."""
    uniqueid = await waiting_caller(fake, ami)
    reply = await ami.request("Hangup", ("Channel", uniqueid), ("Cause", "16"))
    assert reply.get("Message") == "Channel Hungup"
    hangup = await ami.wait_for(lambda f: f.kind == "Hangup" and f.get("Uniqueid") == uniqueid)
    assert hangup.get("Cause-txt") == "Normal Clearing"
    reply = await ami.request("Hangup", ("Channel", uniqueid))
    assert reply.get("Message") == "No such channel"
