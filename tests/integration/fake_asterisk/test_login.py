"""Sessions of the fake: banner, plain and MD5 login, failures, Ping, Logoff, event masks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from acd.ami.actions import md5_key
from connectors.asterisk.fake import CONTRACT_EVENT_FILTER, CONTRACT_READ, FakeAsterisk
from tests.integration.fake_asterisk.conftest import MakeFake
from tests.integration.fake_asterisk.support import AmiConn

Connect = Callable[[], Awaitable[AmiConn]]


@pytest.mark.asyncio
async def test_plain_login_is_accepted_then_fully_booted(connect: Connect) -> None:
    """A good secret: Success, the accepted message, then FullyBooted for a system reader."""
    conn = await connect()
    reply = await conn.login()
    assert conn.decoder.banner == "Asterisk Call Manager/9.0.0"
    assert reply.fields == (
        ("Response", "Success"),
        ("ActionID", reply.action_id),
        ("Message", "Authentication accepted"),
    )
    booted = await conn.wait_for(lambda f: f.kind == "FullyBooted")
    assert [k for k, _ in booted.fields] == [
        "Event", "Privilege", "Uptime", "LastReload", "Status"
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_md5_login_answers_the_challenge(connect: Connect) -> None:
    """Challenge then Login with the MD5 key: accepted, the secret never sent."""
    conn = await connect()
    challenge = await conn.request("Challenge", ("AuthType", "md5"))
    assert challenge.get("Response") == "Success"
    key = md5_key(challenge.get("Challenge", ""), "change-me")
    fields = [("AuthType", "md5"), ("Username", "acd15"), ("Key", key)]
    reply = await conn.request("Login", *fields)
    assert reply.get("Message") == "Authentication accepted"


@pytest.mark.asyncio
async def test_wrong_secret_fails_then_the_session_closes(
    fake: FakeAsterisk, connect: Connect
) -> None:
    """A bad secret: Error 'Authentication failed', a pause, then the connection ends."""
    conn = await connect()
    reply = await conn.login(secret="wrong")
    assert reply.get("Response") == "Error"
    assert reply.get("Message") == "Authentication failed"
    await conn.eof.wait()
    assert fake.actions("Login")[0].response == "Error"
    assert fake.actions("Login")[0].get("Secret") == "***"


@pytest.mark.asyncio
async def test_actions_before_login_are_denied(connect: Connect) -> None:
    """Only Login, Challenge and Logoff work before authentication."""
    conn = await connect()
    reply = await conn.request("Ping")
    assert reply.get("Message") == "Permission denied"


@pytest.mark.asyncio
async def test_ping_answers_pong_with_a_timestamp(ami: AmiConn) -> None:
    """Ping: Success, Ping: Pong, Timestamp, in that order after the ActionID."""
    reply = await ami.request("Ping")
    assert [k for k, _ in reply.fields] == ["Response", "ActionID", "Ping", "Timestamp"]
    assert reply.get("Ping") == "Pong"
    assert float(reply.get("Timestamp", "")) > 0


@pytest.mark.asyncio
async def test_unknown_action_is_an_error(ami: AmiConn) -> None:
    """An action the PBX does not know: Invalid/unknown command, with its ActionID."""
    reply = await ami.request("Frobnicate")
    assert reply.get("Response") == "Error"
    assert reply.get("Message") == "Invalid/unknown command"


@pytest.mark.asyncio
async def test_logoff_says_goodbye_and_closes(ami: AmiConn) -> None:
    """Logoff: Response Goodbye, then the server closes."""
    reply = await ami.request("Logoff")
    assert reply.get("Response") == "Goodbye"
    assert reply.get("Message") == "Thanks for all the fish."
    await ami.eof.wait()


@pytest.mark.asyncio
async def test_events_off_session_gets_responses_only(fake: FakeAsterisk, connect: Connect) -> None:
    """An actions-only session (Events: off) sees no event, another session sees them."""
    quiet, loud = await connect(), await connect()
    await quiet.login(events="off")
    await loud.login()
    fake.add_caller("75")
    await loud.user_event("ACDWaiting")
    await quiet.request("Ping")
    assert quiet.events() == []
    reply = await quiet.request("Events", ("EventMask", "on"))
    assert reply.get("Events") == "On"
    second = fake.add_caller("92")
    await quiet.user_event("ACDWaiting", second)


@pytest.mark.asyncio
async def test_contract_manager_conf_keeps_only_what_the_middleware_reads(
    make_fake: MakeFake,
) -> None:
    """read=call,user,system and the eventfilters: no Newexten/VarSet/Newstate/MOH/Queue noise."""
    fake = await make_fake(read=CONTRACT_READ, event_filter=CONTRACT_EVENT_FILTER)
    conn = await AmiConn.open(fake.port)
    await conn.login()
    uniqueid = fake.add_caller("75", patience_s=1.0)
    await conn.wait_for(lambda f: f.kind == "Hangup" and f.get("Uniqueid") == uniqueid)
    kinds = {f.kind for f in conn.events()}
    await conn.close()
    assert kinds == {"FullyBooted", "Newchannel", "UserEvent", "HangupRequest",
                     "SoftHangupRequest", "Hangup"}  # fmt: skip
