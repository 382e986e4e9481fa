"""Several Asterisk servers at once, and a clean close: Logoff, no task or socket left."""

from __future__ import annotations

import asyncio

import pytest

from acd.ami import actions
from acd.ami.errors import AmiConnectionLost
from acd.ami.frames import Frame
from tests.integration.ami.scripted_server import Script, ScriptedAmiServer, wait_for
from tests.integration.ami.support import Clients, Recorder, user_event


def _client_tasks() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name().startswith("ami-")]


@pytest.mark.asyncio
async def test_two_pbxs_are_served_independently(clients: Clients) -> None:
    """Two clients to two servers get their own events; one PBX's outage leaves the other alone."""
    north = await ScriptedAmiServer(Script(secret="north-secret")).start()
    south = await ScriptedAmiServer(Script(secret="south-secret")).start()
    seen_north, seen_south = Recorder(), Recorder()
    try:
        to_north = clients(north, seen_north, name="pbx-north", secret="north-secret")
        to_south = clients(south, seen_south, name="pbx-south", secret="south-secret")
        await asyncio.gather(to_north.start(), to_south.start())
        await asyncio.gather(to_north.wait_logged_in(2), to_south.wait_logged_in(2))
        await north.send_event(*user_event("ACDWaiting", ("Uniqueid", "north.1")))
        await south.send_event(*user_event("ACDWaiting", ("Uniqueid", "south.1")))
        await wait_for(lambda: len(seen_north.frames) == 2 and len(seen_south.frames) == 2)
        assert seen_north.frames[1].get("Uniqueid") == "north.1"
        assert seen_south.frames[1].get("Uniqueid") == "south.1"

        await north.drop()
        await wait_for(lambda: seen_north.connects == 2, what="the north PBX's new session")
        answer = await to_south.send(actions.setvar("ACD_HEARTBEAT", "1795923802"))
        assert answer.ok
        assert seen_south.disconnects == []
        assert seen_south.connects == 1
        assert to_north.stats().reconnects == 1
        assert to_south.stats().reconnects == 0
        assert to_north.stats().name == "pbx-north"
    finally:
        await asyncio.gather(north.close(), south.close())


@pytest.mark.asyncio
async def test_close_logs_off_and_leaves_nothing_running(
    server: ScriptedAmiServer, clients: Clients, recorder: Recorder
) -> None:
    """``close`` sends Logoff, reports the end, stops every task; the client stays closed."""
    client = clients(server, recorder)
    await client.start()
    await client.wait_logged_in(2)
    assert len(_client_tasks()) == 4  # connection, consumer, reader, pinger
    await client.close()
    assert len(server.received("Logoff")) == 1
    assert recorder.disconnects == ["client closed"]
    assert _client_tasks() == []
    assert not client.logged_in
    assert not client.stats().connected
    await client.close()  # a second close is harmless
    with pytest.raises(AmiConnectionLost):
        await client.send(actions.ping())
    with pytest.raises(AmiConnectionLost, match="client closed"):
        await client.wait_logged_in(1)
    with pytest.raises(RuntimeError, match="was closed"):
        await client.start()
    await asyncio.sleep(0.2)
    assert len(server.connections) == 1  # no reconnection after close


@pytest.mark.asyncio
async def test_close_while_retrying_is_immediate_and_fails_waiters(clients: Clients) -> None:
    """Closing a client that cannot log in ends its retries and wakes whoever waits for it."""
    server = await ScriptedAmiServer(Script(silent={"Challenge"})).start()
    try:
        client = clients(server, action_timeout_s=0.2)
        await client.start()
        waiter = asyncio.ensure_future(client.wait_logged_in(5))
        await wait_for(lambda: len(server.connections) >= 2, what="a retry")
        await asyncio.wait_for(client.close(), timeout=1)
        with pytest.raises(AmiConnectionLost, match="client closed"):
            await waiter
        assert _client_tasks() == []
        assert server.received("Logoff") == []
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_failing_resync_hook_drops_the_session_and_tries_again(
    server: ScriptedAmiServer, clients: Clients, recorder: Recorder
) -> None:
    """If ``on_connected`` raises, the session is dropped so that the next one resyncs."""
    attempts: list[int] = []

    async def flaky_resync() -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            raise RuntimeError("snapshot failed")

    client = clients(server, recorder, on_connected=flaky_resync)
    await client.start()
    await client.wait_logged_in(2)
    assert attempts == [1, 2]
    assert len(server.connections) == 2
    assert recorder.disconnects == ["on_connected failed: RuntimeError('snapshot failed')"]
    assert client.stats().handler_errors == 1


@pytest.mark.asyncio
async def test_close_from_an_event_handler_stops_the_client(
    server: ScriptedAmiServer, clients: Clients
) -> None:
    """A handler may close its own client: Logoff is sent and no task is left behind."""
    closed = asyncio.Event()

    async def close_on_shutdown(frame: Frame) -> None:
        if frame.kind == "Shutdown":
            await client.close()
            closed.set()

    client = clients(server, on_frame=close_on_shutdown)
    await client.start()
    await client.wait_logged_in(2)
    await server.send_event(("Event", "Shutdown"), ("Shutdown", "Uncleanly"), ("Restart", "True"))
    await asyncio.wait_for(closed.wait(), timeout=2)
    await wait_for(lambda: _client_tasks() == [], what="the consumer's end")
    assert len(server.received("Logoff")) == 1
    assert not client.stats().connected
