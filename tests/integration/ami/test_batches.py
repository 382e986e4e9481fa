"""Action batches (an offer's Setvars and Redirect in one write), and links cut in the middle.

The cuts come from the fake Asterisk's fault hook (``cut_link_at``): the session drops at
one chosen action of the batch. Whatever the point, the batch fails whole with
``AmiConnectionLost`` and is never written again; where the caller stands is read back
on the next session (``Getvar ACD_STATE``), as the safe redirect protocol says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from acd.ami import actions
from acd.ami.errors import AmiConnectionLost
from connectors.asterisk import AmiClient
from connectors.asterisk.fake import CutPoint, Dist, FakeAsterisk, FakeConfig
from tests.integration.ami.scripted_server import Script, ScriptedAmiServer, wait_for
from tests.integration.ami.support import Clients

ROUTE = "r-cut-1"


def _offer(channel: str) -> list[actions.Action]:
    """The actions of an offer, as the PBX adapter writes them."""
    return [
        actions.setvar("ACD_TARGET", "PJSIP/75-a0", channel=channel),
        actions.setvar("ACD_RING_TIMEOUT", "20", channel=channel),
        actions.setvar("ACD_ROUTE_ID", ROUTE, channel=channel),
        actions.redirect(channel, "acd-dispatch", "s", 1),
    ]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = await FakeAsterisk(
        FakeConfig(scale=0.05, ring_delay=Dist.fixed(100.0), auth_fail_delay_s=0.05)
    ).start()
    server.set_agent("PJSIP/75-a0", answers=True)
    server.set_global("ACD_HEARTBEAT", str(server.epoch() + 3600))  # callers keep waiting
    yield server
    await server.stop()


async def _waiting_caller(fake: FakeAsterisk) -> str:
    uid = fake.add_caller("75")
    caller = fake.caller(uid)
    assert caller is not None
    await wait_for(lambda: caller.channel.vars.get("ACD_STATE") == "waiting", what="waiting")
    return uid


async def _client_of(fake: FakeAsterisk, clients: Clients) -> AmiClient:
    client = clients(fake.port, username="acd15", secret="change-me")
    await client.start()
    await client.wait_logged_in(2)
    return client


async def _state_after_reconnect(client: AmiClient, uid: str) -> str:
    await wait_for(lambda: client.stats().reconnects == 1, what="the reconnect")
    await client.wait_logged_in(2)
    answer = await client.send(actions.getvar("ACD_STATE", channel=uid))
    return answer.response.get("Value", "")


@pytest.mark.asyncio
async def test_a_batch_is_written_in_order_and_each_action_gets_its_own_answer(
    clients: Clients,
) -> None:
    """Setvar, Setvar, Redirect in one write: read in order; the Redirect's error is its own."""
    script = Script(errors={"Redirect": "Channel does not exist: 1795923776.27"})
    server = await ScriptedAmiServer(script).start()
    try:
        client = clients(server)
        await client.start()
        await client.wait_logged_in(2)
        batch = _offer("1795923776.27")[1:]
        answers = await client.send_all(batch)
        assert [a.ok for a in answers] == [True, True, False]
        assert answers[2].message == "Channel does not exist: 1795923776.27"
        written = [f for f in server.actions if f.get("Action") in ("Setvar", "Redirect")]
        assert [f.get("Action") for f in written] == ["Setvar", "Setvar", "Redirect"]
        assert len({f.action_id for f in written}) == 3
        assert client.stats().actions_in_flight == 0
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_link_cut_after_the_route_setvar_loses_the_redirect_and_the_caller_still_waits(
    fake: FakeAsterisk, clients: Clients
) -> None:
    """Cut at Setvar ACD_ROUTE_ID: the batch fails, the Redirect never reached the PBX."""
    client = await _client_of(fake, clients)
    uid = await _waiting_caller(fake)
    cut = fake.cut_link_at("Setvar", CutPoint.BEFORE_RESPONSE, variable="ACD_ROUTE_ID")
    with pytest.raises(AmiConnectionLost, match="outcome unknown, not replayed"):
        await client.send_all(_offer(uid))
    assert cut.fired
    assert await _state_after_reconnect(client, uid) == "waiting"
    assert [(r.name, r.get("Variable")) for r in fake.action_log if r.get("Channel") == uid] == [
        ("Setvar", "ACD_TARGET"),
        ("Setvar", "ACD_RING_TIMEOUT"),
        ("Setvar", "ACD_ROUTE_ID"),
        ("Getvar", "ACD_STATE"),
    ]
    assert fake.stats().redirects[uid] == 0


@pytest.mark.asyncio
async def test_link_cut_after_the_redirect_took_effect_leaves_the_caller_routing(
    fake: FakeAsterisk, clients: Clients
) -> None:
    """Cut before the Redirect's answer: it took effect once; the check reads routing:<route>."""
    client = await _client_of(fake, clients)
    uid = await _waiting_caller(fake)
    fake.cut_link_at("Redirect", CutPoint.BEFORE_RESPONSE, channel=uid)
    with pytest.raises(AmiConnectionLost):
        await client.send_all(_offer(uid))
    assert await _state_after_reconnect(client, uid) == f"routing:{ROUTE}"
    (redirect,) = fake.actions("Redirect")
    assert (redirect.response, redirect.cut) == ("Success", CutPoint.BEFORE_RESPONSE)
    assert fake.stats().dispatch_routes[uid] == (ROUTE,)


@pytest.mark.asyncio
async def test_link_cut_as_the_redirect_arrives_never_applies_it(
    fake: FakeAsterisk, clients: Clients
) -> None:
    """Cut before the Redirect is applied: logged as cut, no effect, the caller still waits."""
    client = await _client_of(fake, clients)
    uid = await _waiting_caller(fake)
    fake.cut_link_at("Redirect", CutPoint.BEFORE_APPLY)
    with pytest.raises(AmiConnectionLost):
        await client.send_all(_offer(uid))
    assert await _state_after_reconnect(client, uid) == "waiting"
    (redirect,) = fake.actions("Redirect")
    assert (redirect.response, redirect.cut) == ("", CutPoint.BEFORE_APPLY)
    await asyncio.sleep(0.05)  # a Redirect applied late would show by now
    assert fake.stats().redirects[uid] == 0
