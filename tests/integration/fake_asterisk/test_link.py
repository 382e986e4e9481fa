"""Resync and the link: CoreShowChannels, restart, cut sessions, garbage, a paused stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from connectors.asterisk.fake import FakeAsterisk, Fate
from tests.integration.fake_asterisk.support import AmiConn
from tests.integration.fake_asterisk.test_waiting import beat

Connect = Callable[[], Awaitable[AmiConn]]


@pytest.mark.asyncio
async def test_core_show_channels_lists_waiting_callers_with_their_variables(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """EventList start, one CoreShowChannel per channel with ChanVariables, then Complete."""
    beat(fake)
    first = fake.add_caller("75")
    second = fake.add_caller("92", priority="pro")
    await ami.user_event("ACDWaiting", second)
    action_id = ami.send("CoreShowChannels")
    done = await ami.wait_for(lambda f: f.kind == "CoreShowChannelsComplete")
    start = await ami.wait_for(lambda f: f.is_response and f.action_id == action_id)
    assert start.fields == (
        ("Response", "Success"), ("ActionID", action_id), ("EventList", "start"),
        ("Message", "Channels will follow"),
    )  # fmt: skip
    items = [f for f in ami.events("CoreShowChannel") if f.action_id == action_id]
    assert [f.get("Uniqueid") for f in items] == [first, second]
    assert [k for k, _ in items[0].fields][:3] == ["Event", "ActionID", "Channel"]
    assert [k for k, _ in items[0].fields][-4:] == [
        "BridgeId", "Application", "ApplicationData", "Duration"
    ]  # fmt: skip
    assert items[1].chan_vars == {
        "ACD_STATE": "waiting", "ACD_DEPT": "92", "ACD_PRIO": "pro",
        "ACD_ENQ_TS": items[1].chan_vars["ACD_ENQ_TS"], "ACD_ROUTE_ID": "",
    }  # fmt: skip
    assert items[1].get("Context") == "acd-wait"
    assert done.fields == (
        ("Event", "CoreShowChannelsComplete"), ("ActionID", action_id),
        ("EventList", "Complete"), ("ListItems", "2"),
    )  # fmt: skip


@pytest.mark.asyncio
async def test_restart_sends_shutdown_and_forgets_every_call(
    fake: FakeAsterisk, connect: Connect
) -> None:
    """Shutdown to the sessions, connections closed, calls lost, FullyBooted on a new login."""
    conn = await connect()
    await conn.login()
    beat(fake)
    uniqueid = fake.add_caller("75")
    await conn.user_event("ACDWaiting", uniqueid)
    await fake.restart()
    shutdown = await conn.wait_for(lambda f: f.kind == "Shutdown")
    assert [k for k, _ in shutdown.fields] == ["Event", "Privilege", "Shutdown", "Restart"]
    assert shutdown.get("Restart") == "True"
    await conn.eof.wait()
    assert fake.stats().count(Fate.LOST) == 1
    again = await connect()
    await again.login()
    booted = await again.wait_for(lambda f: f.kind == "FullyBooted")
    assert booted.get("Uptime") == "0"
    action_id = again.send("CoreShowChannels")
    done = await again.wait_for(lambda f: f.kind == "CoreShowChannelsComplete")
    assert (done.action_id, done.get("ListItems")) == (action_id, "0")
    assert fake.global_var("ACD_HEARTBEAT") == ""


@pytest.mark.asyncio
async def test_dropped_sessions_leave_the_calls_alone(fake: FakeAsterisk, connect: Connect) -> None:
    """drop_sessions cuts the TCP links; the PBX keeps its callers for the next login."""
    conn = await connect()
    await conn.login()
    beat(fake)
    uniqueid = fake.add_caller("75")
    await conn.user_event("ACDWaiting", uniqueid)
    fake.drop_sessions()
    await conn.eof.wait()
    again = await connect()
    await again.login()
    reply = await again.request("Getvar", ("Channel", uniqueid), ("Variable", "ACD_STATE"))
    assert reply.get("Value") == "waiting"


@pytest.mark.asyncio
async def test_injected_garbage_reaches_the_sessions(fake: FakeAsterisk, ami: AmiConn) -> None:
    """inject_raw writes bytes as they are: a line without a colon is a bad frame."""
    fake.inject_raw(b"garbage without colon\r\n\r\nEvent: Custom\r\nX: 1\r\n\r\n")
    custom = await ami.wait_for(lambda f: f.kind == "Custom")
    assert custom.get("X") == "1"
    assert ami.decoder.bad_frames == 1


@pytest.mark.asyncio
async def test_paused_stream_holds_events_then_delivers_them_in_order(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """While paused nothing arrives (responses too if asked); resume writes the backlog."""
    beat(fake)
    fake.pause_event_stream(responses=True)
    uniqueid = fake.add_caller("75")
    action_id = ami.send("Ping")
    await asyncio.sleep(0.1)
    assert not [f for f in ami.frames if f.action_id == action_id]
    assert ami.events(user_event="ACDWaiting") == []
    fake.resume_event_stream()
    await ami.wait_for(lambda f: f.action_id == action_id)
    await ami.user_event("ACDWaiting", uniqueid)


@pytest.mark.asyncio
async def test_action_log_keeps_every_action_with_its_answer(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """Each action is logged with session, time, fields and the answer given."""
    await ami.request("Getvar", ("Variable", "ACD_MAX_WAIT"))
    record = fake.actions("getvar")[-1]
    assert record.session >= 1
    assert record.response == "Success"
    assert record.get("Variable") == "ACD_MAX_WAIT"
    assert record.action_id is not None
    assert [r.name for r in fake.action_log][:2] == ["Login", "Getvar"]
