"""A caller's arrival, the waiting loop's fail-open checks, abandonment, and the fallback."""

from __future__ import annotations

import asyncio

import pytest

from connectors.asterisk.fake import FakeAsterisk, Fate
from tests.integration.fake_asterisk.conftest import SCALE
from tests.integration.fake_asterisk.support import AmiConn

LOOP_TURN = 2.0 * SCALE


def beat(fake: FakeAsterisk) -> None:
    """A fresh middleware heartbeat."""
    fake.set_global("ACD_HEARTBEAT", str(fake.epoch()))


@pytest.mark.asyncio
async def test_arriving_caller_announces_acdwaiting_with_the_contract_fields(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """Newchannel, Newstate Up, then ~0.5 s later ACDWaiting with Dept/Prio/EnqTs/CallerNum."""
    beat(fake)
    uniqueid = fake.add_caller("75", priority="pro", caller_num="0611223344")
    waiting = await ami.user_event("ACDWaiting", uniqueid)
    new = await ami.wait_for(lambda f: f.kind == "Newchannel" and f.get("Uniqueid") == uniqueid)
    assert new.get("Channel", "").startswith("PJSIP/trunk-")
    assert new.get("Linkedid") == uniqueid
    up = await ami.wait_for(lambda f: f.kind == "Newstate" and f.get("ChannelStateDesc") == "Up")
    assert ami.frames.index(new) < ami.frames.index(up) < ami.frames.index(waiting)
    assert waiting.get("Dept") == "75"
    assert waiting.get("Prio") == "pro"
    assert waiting.get("CallerNum") == "0611223344"
    assert abs(int(waiting.get("EnqTs", "0")) - fake.epoch()) <= 1
    assert waiting.get_all("ChanVariable") == [
        "ACD_STATE=waiting",
        "ACD_DEPT=75",
        "ACD_PRIO=pro",
        f"ACD_ENQ_TS={waiting.get('EnqTs')}",
        "ACD_ROUTE_ID=",
    ]
    assert waiting.get_all("Channel") == [waiting.get("Channel")]
    assert waiting.get("Context") == "acd-inbound"


@pytest.mark.asyncio
async def test_no_heartbeat_fails_open_within_one_loop_turn(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """Without a heartbeat the first turn sends the caller to the fallback: heartbeat-missing."""
    uniqueid = fake.add_caller("92")
    await ami.user_event("ACDWaiting", uniqueid)
    start = asyncio.get_running_loop().time()
    fallback = await ami.user_event("ACDFallback", uniqueid, timeout=LOOP_TURN * 2)
    assert asyncio.get_running_loop().time() - start <= LOOP_TURN
    assert fallback.get("Reason") == "heartbeat-missing"
    assert fallback.get("Dept") == "92"
    assert fallback.chan_vars["ACD_STATE"] == "fallback"
    assert fake.stats().fallback == 1


@pytest.mark.asyncio
async def test_stale_heartbeat_fails_open(fake: FakeAsterisk, ami: AmiConn) -> None:
    """A heartbeat older than ACD_HEARTBEAT_MAX: heartbeat-stale."""
    fake.set_global("ACD_HEARTBEAT", str(fake.epoch() - 6))
    uniqueid = fake.add_caller("75")
    fallback = await ami.user_event("ACDFallback", uniqueid)
    assert fallback.get("Reason") == "heartbeat-stale"


@pytest.mark.asyncio
async def test_a_heartbeat_that_is_not_a_number_never_fails_open(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """As in Asterisk, $[EPOCH - junk > 5] is a syntax error worth 0: the caller keeps waiting."""
    fake.set_global("ACD_HEARTBEAT", "junk")
    uniqueid = fake.add_caller("75")
    await ami.user_event("ACDWaiting", uniqueid)
    await asyncio.sleep(LOOP_TURN * 3)
    assert ami.events(user_event="ACDFallback") == []


@pytest.mark.asyncio
async def test_wait_ceiling_fails_open_with_max_wait(fake: FakeAsterisk, ami: AmiConn) -> None:
    """A wait above ACD_MAX_WAIT (whole EPOCH seconds) sends the caller to fallback: max-wait."""
    beat(fake)
    fake.set_global("ACD_MAX_WAIT", "0")
    uniqueid = fake.add_caller("75")
    await ami.user_event("ACDWaiting", uniqueid)
    fallback = await ami.user_event("ACDFallback", uniqueid, timeout=3.0)
    assert fallback.get("Reason") == "max-wait"


@pytest.mark.asyncio
async def test_heartbeat_kept_fresh_keeps_the_caller_waiting(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """With a fresh heartbeat the caller loops in MOH turn after turn, ACD_STATE=waiting."""
    beat(fake)
    uniqueid = fake.add_caller("75")
    await ami.user_event("ACDWaiting", uniqueid)
    await asyncio.sleep(LOOP_TURN * 3)
    starts = [f for f in ami.events("MusicOnHoldStart") if f.get("Uniqueid") == uniqueid]
    assert len(starts) >= 2
    reply = await ami.request("Getvar", ("Channel", uniqueid), ("Variable", "ACD_STATE"))
    assert reply.get("Value") == "waiting"
    assert ami.events(user_event="ACDFallback") == []


@pytest.mark.asyncio
async def test_caller_abandoning_in_moh_hangs_up_with_cause_0(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """HangupRequest without Cause, SoftHangupRequest 16, ACDHangup waiting, Hangup Cause 0."""
    beat(fake)
    uniqueid = fake.add_caller("75", patience_s=4.0)
    hangup = await ami.wait_for(lambda f: f.kind == "Hangup" and f.get("Uniqueid") == uniqueid)
    mine = [f for f in ami.frames if f.get("Uniqueid") == uniqueid]
    names = [f.kind for f in mine]
    request = mine[names.index("HangupRequest")]
    assert "Cause" not in request
    soft = mine[names.index("SoftHangupRequest")]
    assert soft.get("Cause") == "16"
    h = await ami.user_event("ACDHangup", uniqueid)
    assert (h.get("State"), h.get("RouteId"), h.get("DialStatus")) == ("waiting", "", "")
    assert h.get("Exten") == "h"
    assert (hangup.get("Cause"), hangup.get("Cause-txt")) == ("0", "Unknown")
    assert hangup.chan_vars["ACD_STATE"] == "waiting"
    assert names.index("HangupRequest") < names.index("SoftHangupRequest") < names.index("Hangup")
    assert fake.stats().abandoned == 1


@pytest.mark.asyncio
async def test_fallback_queue_answers_then_the_caller_hangs_up(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """The static fallback takes the caller (QueueCallerJoin/Leave) and the call ends later."""
    uniqueid = fake.add_caller("75", talk_s=1.0)
    await ami.wait_for(lambda f: f.kind == "QueueCallerJoin" and f.get("Uniqueid") == uniqueid)
    leave = await ami.wait_for(lambda f: f.kind == "QueueCallerLeave")
    assert leave.get("Queue") == "acd-fallback-75"
    h = await ami.user_event("ACDHangup", uniqueid)
    assert h.get("State") == "fallback"
    assert fake.caller(uniqueid) is not None
    assert fake.stats().count(Fate.FALLBACK) == 1
