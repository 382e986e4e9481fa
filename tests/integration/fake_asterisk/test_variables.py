"""Setvar and Getvar, global and per channel, as Asterisk 20 answers them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from connectors.asterisk.fake import FakeAsterisk
from tests.integration.fake_asterisk.support import AmiConn

Connect = Callable[[], Awaitable[AmiConn]]


@pytest.mark.asyncio
async def test_global_setvar_is_broadcast_as_varset_without_channel(connect: Connect) -> None:
    """A global Setvar reaches every session as VarSet with Channel/Uniqueid 'none'."""
    writer, other = await connect(), await connect()
    await writer.login()
    await other.login()
    reply = await writer.request("Setvar", ("Variable", "ACD_HEARTBEAT"), ("Value", "1234"))
    assert reply.get("Message") == "Variable Set"
    varset = await other.wait_for(lambda f: f.kind == "VarSet")
    assert varset.fields == (
        ("Event", "VarSet"),
        ("Privilege", "dialplan,all"),
        ("Channel", "none"),
        ("Uniqueid", "none"),
        ("Variable", "ACD_HEARTBEAT"),
        ("Value", "1234"),
    )


@pytest.mark.asyncio
async def test_getvar_reads_globals_and_an_empty_value_stays(ami: AmiConn) -> None:
    """Getvar without Channel reads the global; an empty Setvar leaves it empty, not gone."""
    reply = await ami.request("Getvar", ("Variable", "ACD_HEARTBEAT_MAX"))
    assert [k for k, _ in reply.fields] == ["Response", "ActionID", "Variable", "Value"]
    assert reply.get("Value") == "5"
    await ami.request("Setvar", ("Variable", "ACD_HEARTBEAT_MAX"), ("Value", ""))
    reply = await ami.request("Getvar", ("Variable", "GLOBAL(ACD_HEARTBEAT_MAX)"))
    assert reply.get("Response") == "Success"
    assert reply.get("Value") == ""


@pytest.mark.asyncio
async def test_channel_variables_by_uniqueid_or_name(fake: FakeAsterisk, ami: AmiConn) -> None:
    """Setvar/Getvar accept a Uniqueid or a channel name."""
    uniqueid = fake.add_caller("75")
    waiting = await ami.user_event("ACDWaiting", uniqueid)
    name = waiting.get("Channel", "")
    assert name.startswith("PJSIP/trunk-")
    fields = [("Channel", uniqueid), ("Variable", "ACD_TARGET"), ("Value", "PJSIP/arm-7501")]
    assert (await ami.request("Setvar", *fields)).get("Message") == "Variable Set"
    reply = await ami.request("Getvar", ("Channel", name), ("Variable", "ACD_TARGET"))
    assert reply.get("Value") == "PJSIP/arm-7501"
    reply = await ami.request("Getvar", ("Channel", uniqueid), ("Variable", "ACD_DEPT"))
    assert reply.get("Value") == "75"


@pytest.mark.asyncio
async def test_variables_of_a_missing_channel_say_no_such_channel(ami: AmiConn) -> None:
    """Setvar and Getvar on a channel that does not exist: Error 'No such channel'."""
    fields = [("Channel", "1.999"), ("Variable", "ACD_TARGET"), ("Value", "x")]
    assert (await ami.request("Setvar", *fields)).get("Message") == "No such channel"
    reply = await ami.request("Getvar", ("Channel", "1.999"), ("Variable", "ACD_STATE"))
    assert reply.get("Response") == "Error"
    assert reply.get("Message") == "No such channel"
