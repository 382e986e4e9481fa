"""Reconnects: backoff with jitter, resync after each login, never an action replayed."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from acd.ami import actions
from acd.ami.errors import AmiConnectionLost
from connectors.asterisk import Backoff
from tests.integration.ami.scripted_server import Script, ScriptedAmiServer, wait_for
from tests.integration.ami.support import Clients, Recorder, TopOfRange


@pytest.mark.asyncio
async def test_reconnects_after_each_drop_and_resyncs_every_time(
    server: ScriptedAmiServer, clients: Clients, recorder: Recorder
) -> None:
    """Each time the server drops the link the client logs in again and reruns ``on_connected``."""
    client = clients(server, recorder)
    await client.start()
    await client.wait_logged_in(2)

    def logins_reach(count: int) -> Callable[[], bool]:
        return lambda: recorder.connects == count

    for login_number in (2, 3, 4):
        await server.drop()
        await wait_for(logins_reach(login_number), what=f"login {login_number}")
        await client.wait_logged_in(2)
    assert recorder.disconnects == ["connection closed by the peer"] * 3
    assert len(server.connections) == 4
    stats = client.stats()
    assert stats.reconnects == 3
    assert stats.retry_delay_s is not None
    assert 0.02 <= stats.retry_delay_s <= 0.2


@pytest.mark.asyncio
async def test_action_in_flight_when_the_link_drops_fails_and_is_never_replayed(
    clients: Clients, recorder: Recorder
) -> None:
    """A Redirect cut off by the link's loss raises ``AmiConnectionLost`` and is written once."""
    server = await ScriptedAmiServer(Script(drop_on={"Redirect"})).start()
    try:
        client = clients(server, recorder)
        await client.start()
        await client.wait_logged_in(2)
        redirect = actions.redirect("1795923776.27", "acd-dispatch", "s")
        with pytest.raises(AmiConnectionLost, match="outcome unknown, not replayed"):
            await client.send(redirect)
        await wait_for(lambda: recorder.connects == 2, what="the new session's resync")
        await asyncio.sleep(0.3)  # a replaying client would have written it again by now
        assert len(server.received("Redirect")) == 1
        assert client.stats().actions_in_flight == 0
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_every_pending_action_fails_when_the_server_drops(
    clients: Clients, recorder: Recorder
) -> None:
    """Several unanswered actions all fail with ``AmiConnectionLost`` when the link drops."""
    server = await ScriptedAmiServer(Script(silent={"Setvar"})).start()
    try:
        client = clients(server, recorder, action_timeout_s=5.0)
        await client.start()
        await client.wait_logged_in(2)
        pending = [
            asyncio.ensure_future(client.send(actions.setvar("ACD_TARGET", f"PJSIP/{n}")))
            for n in range(3)
        ]
        await wait_for(lambda: len(server.received("Setvar")) == 3, what="3 Setvar")
        assert client.stats().actions_in_flight == 3
        await server.drop()
        results = await asyncio.gather(*pending, return_exceptions=True)
        assert all(isinstance(result, AmiConnectionLost) for result in results)
        await wait_for(lambda: recorder.connects == 2, what="the new session's resync")
        assert len(server.received("Setvar")) == 3
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_send_without_a_session_raises_and_writes_nothing(
    server: ScriptedAmiServer, clients: Clients
) -> None:
    """Before the login an action is refused at once with ``AmiConnectionLost``."""
    client = clients(server)
    with pytest.raises(AmiConnectionLost, match="not connected; Redirect not sent"):
        await client.send(actions.redirect("1795923776.27", "acd-dispatch", "s"))
    assert server.actions == []


def test_backoff_ceiling_doubles_up_to_the_cap_and_resets() -> None:
    """The delay ceiling goes 0.2, 0.4, 0.8 ... up to 10 s, and back to 0.2 after a reset."""
    backoff = Backoff(rng=TopOfRange())
    delays = [backoff.next_delay() for _ in range(8)]
    assert delays == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0])
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.2)


def test_backoff_jitter_stays_between_floor_and_ceiling() -> None:
    """Each delay is drawn between the floor and the current ceiling (full jitter)."""
    backoff = Backoff(min_s=0.2, max_s=10.0, rng=random.Random(15))
    for _ in range(200):
        ceiling = backoff.ceiling()
        delay = backoff.next_delay()
        assert 0.2 <= delay <= ceiling
    spread = {round(Backoff(rng=random.Random(seed)).next_delay(), 6) for seed in range(5)}
    assert spread == {0.2}  # the first draw has floor == ceiling
    later = Backoff(rng=random.Random(1))
    for _ in range(5):
        later.next_delay()
    draws = {round(later.next_delay(), 3) for _ in range(20)}
    assert len(draws) > 10  # jittered, not one fixed interval


def test_backoff_refuses_nonsense_bounds() -> None:
    """A zero floor or a cap below the floor is a configuration error."""
    with pytest.raises(ValueError, match="0 < min_s <= max_s"):
        Backoff(min_s=0, max_s=1)
    with pytest.raises(ValueError, match="0 < min_s <= max_s"):
        Backoff(min_s=2, max_s=1)
    with pytest.raises(ValueError, match="factor"):
        Backoff(factor=0.5)
