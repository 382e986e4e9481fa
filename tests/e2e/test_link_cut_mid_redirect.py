"""The AMI link cut in the middle of a redirect: reconnect, resync, the caller routed once.

The fake Asterisk drops the session at a chosen action of the offer (``cut_link_at``).
What must hold whatever the point: the client reconnects and resyncs, the caller ends
connected to exactly one ARM, the PBX applied at most one Redirect of that caller to an
ARM, and no action of the cut offer was ever written again (a new route id comes only
after the channels were read anew).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from acd.core.ids import AgentId
from acd.core.states import AgentState, CallState
from connectors.asterisk.fake import ActionRecord, CutPoint, FakeAsterisk, Phase
from connectors.asterisk.pbx import AmiPbx
from tests.e2e.test_routing_over_ami import FAST, Acd, running, until


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = await FakeAsterisk(FAST).start()
    for i in range(2):
        server.set_agent(f"PJSIP/75-a{i}", answers=True)
    yield server
    await server.stop()


def _of(fake: FakeAsterisk, uid: str) -> list[ActionRecord]:
    """The actions the fake read about one caller's channel, in order."""
    return [r for r in fake.action_log if r.get("Channel") == uid]


def _applied_redirects(fake: FakeAsterisk, uid: str) -> list[ActionRecord]:
    """The Redirects of that caller the PBX carried out (answered or not)."""
    return [r for r in _of(fake, uid) if r.name == "Redirect" and r.response == "Success"]


def _route_ids_set(fake: FakeAsterisk, uid: str) -> list[str]:
    """Every ACD_ROUTE_ID written on that caller's channel, in order."""
    return [r.get("Value") for r in _of(fake, uid) if r.get("Variable") == "ACD_ROUTE_ID"]


def _channels_read_after(fake: FakeAsterisk, cut: ActionRecord) -> list[ActionRecord]:
    """The channel reads (resync) done on a later session than the cut one."""
    return [
        r
        for r in fake.action_log
        if r.name == "CoreShowChannels" and r.session > cut.session and r.at >= cut.at
    ]


def _link_of(acd: Acd) -> AmiPbx:
    pbx = acd.dispatcher.pbxs["pbx1"]
    assert isinstance(pbx, AmiPbx)
    return pbx


async def _logged_in(acd: Acd, *agents: str) -> None:
    acd.login(*agents)
    await until(
        lambda: all(acd.engine.agent(AgentId(a)).state is AgentState.AVAILABLE for a in agents)
    )


def _connected_to_one_arm(acd: Acd, fake: FakeAsterisk, uid: str) -> AgentId:
    """The caller talks to one ARM, on both sides, and to no other."""
    call = acd.engine.call(acd.call(uid))
    assert call is not None
    assert call.state is CallState.CONNECTED
    assert call.agent is not None
    holding = [
        a.id for a in (acd.engine.agent(AgentId(f"75-a{i}")) for i in range(2)) if a.call == call.id
    ]
    assert holding == [call.agent]
    caller = fake.caller(uid)
    assert caller is not None
    assert caller.phase is Phase.BRIDGED
    assert caller.agent is not None
    assert caller.agent.endpoint == f"PJSIP/{call.agent}"
    return call.agent


@pytest.mark.asyncio
async def test_link_cut_after_the_offer_setvars_before_its_redirect_routes_the_caller_once(
    fake: FakeAsterisk,
) -> None:
    """Cut after Setvar ACD_ROUTE_ID: the lost Redirect is never resent; a checked new route."""
    async with running(fake) as acd:
        await _logged_in(acd, "75-a0", "75-a1")
        uid = fake.add_caller("75", talk_s=60.0)
        armed = fake.cut_link_at(
            "Setvar", CutPoint.BEFORE_RESPONSE, variable="ACD_ROUTE_ID", channel=uid
        )
        await until(lambda: acd.state(uid) is CallState.CONNECTED, timeout_s=10)

        assert armed.fired
        link = _link_of(acd)
        assert link.client.stats().reconnects >= 1
        assert acd.dispatcher.stats.resyncs >= 2  # the first login, then the reconnect
        assert acd.dispatcher.stats.pbx_failures == 1  # the cut offer: reported, not retried
        agent = _connected_to_one_arm(acd, fake, uid)

        (cut,) = [r for r in fake.action_log if r.cut]
        assert (cut.cut, cut.get("Variable")) == (CutPoint.BEFORE_RESPONSE, "ACD_ROUTE_ID")
        first_route = cut.get("Value")
        redirects = _applied_redirects(fake, uid)
        assert len(redirects) == 1  # the cut offer's Redirect died with the link
        assert redirects[0].session > cut.session
        second_route = fake.stats().dispatch_routes[uid]
        assert len(second_route) == 1
        assert second_route[0] != first_route
        assert _route_ids_set(fake, uid) == [first_route, second_route[0]]
        # The new route came only after the channels were read on the new session, and
        # the engine's route is the one the PBX ran.
        resync = _channels_read_after(fake, cut)
        assert resync
        assert resync[0].at <= redirects[0].at
        assert acd.engine.call(acd.call(uid)).route == second_route[0]  # type: ignore[union-attr]
        # The ARM of the cut offer is held back after its failed route: the other one took it.
        assert agent == AgentId("75-a1")


@pytest.mark.asyncio
async def test_link_cut_after_the_redirect_applied_before_its_answer_routes_the_caller_once(
    fake: FakeAsterisk,
) -> None:
    """Cut after the Redirect took effect: the resync finds routing:<route>, nothing is resent."""
    fake.set_agent("PJSIP/75-a0", answers=True, answer_delay_s=10.0)  # rings through the cut
    async with running(fake) as acd:
        await _logged_in(acd, "75-a0")
        uid = fake.add_caller("75", talk_s=60.0)
        armed = fake.cut_link_at("Redirect", CutPoint.BEFORE_RESPONSE, channel=uid)
        await until(lambda: acd.state(uid) is CallState.CONNECTED, timeout_s=10)

        assert armed.fired
        assert _link_of(acd).client.stats().reconnects >= 1
        assert acd.dispatcher.stats.resyncs >= 2
        assert acd.dispatcher.stats.pbx_failures == 1
        assert _connected_to_one_arm(acd, fake, uid) == AgentId("75-a0")

        (cut,) = [r for r in fake.action_log if r.cut]
        assert (cut.name, cut.cut, cut.response) == (
            "Redirect",
            CutPoint.BEFORE_RESPONSE,
            "Success",
        )
        assert _applied_redirects(fake, uid) == [cut]
        routes = fake.stats().dispatch_routes[uid]
        assert len(routes) == 1
        assert _route_ids_set(fake, uid) == [routes[0]]  # no Setvar of a second offer
        assert acd.engine.call(acd.call(uid)).route == routes[0]  # type: ignore[union-attr]
        assert _channels_read_after(fake, cut)
        assert fake.stats().interrupted_routes == 0
