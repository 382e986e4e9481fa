"""Dead-peer detection: Ping every interval, a missing Pong ends the session, TCP keepalive."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from connectors.asterisk import enable_keepalive
from tests.integration.ami.scripted_server import ScriptedAmiServer, wait_for
from tests.integration.ami.support import Clients, Recorder


@pytest.mark.asyncio
async def test_pings_every_interval_and_tracks_the_last_pong(
    server: ScriptedAmiServer, clients: Clients
) -> None:
    """A logged-in client sends Ping every ``ping_interval_s`` and notes each Pong."""
    client = clients(server)
    await client.start()
    await client.wait_logged_in(2)
    await asyncio.sleep(0.55)
    pings = len(server.received("Ping"))
    assert 3 <= pings <= 6
    age = client.stats().last_pong_age_s
    assert age is not None
    assert age < 0.3


@pytest.mark.asyncio
async def test_missing_pong_declares_the_peer_dead_and_reconnects(
    server: ScriptedAmiServer, clients: Clients, recorder: Recorder
) -> None:
    """A peer that stops answering Ping is dropped within ping+pong, then a new session resyncs."""
    client = clients(server, recorder)
    await client.start()
    await client.wait_logged_in(2)
    muted_at = time.monotonic()
    server.mute_pings()
    await wait_for(lambda: bool(recorder.disconnects), timeout=2, what="the dead-peer verdict")
    detected_after = time.monotonic() - muted_at
    assert recorder.disconnects == ["no pong within 0.2 s"]
    assert detected_after < 0.1 + 0.2 + 0.3
    await wait_for(lambda: recorder.connects == 2, timeout=2, what="the new session's resync")
    assert len(server.connections) == 2
    assert client.stats().reconnects == 1
    assert client.logged_in


@pytest.mark.asyncio
async def test_session_socket_has_tcp_keepalive(
    server: ScriptedAmiServer, clients: Clients
) -> None:
    """The client's socket gets TCP keepalive, the kernel's backup for Ping/Pong."""
    client = clients(server)
    await client.start()
    await client.wait_logged_in(2)
    assert client.stats().keepalive


def test_enable_keepalive_sets_idle_interval_and_count() -> None:
    """``enable_keepalive`` sets SO_KEEPALIVE and the idle, interval and count options."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as sock:
            assert enable_keepalive(sock, idle_s=7, interval_s=3, count=4)
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            expected = {"TCP_KEEPIDLE": 7, "TCP_KEEPINTVL": 3, "TCP_KEEPCNT": 4}
            for name, value in expected.items():
                option = getattr(socket, name, None)
                if option is not None:
                    assert sock.getsockopt(socket.IPPROTO_TCP, option) == value


def test_enable_keepalive_declines_an_object_without_socket_options() -> None:
    """Without ``setsockopt`` (no socket at hand) keepalive is reported off, not raised."""
    assert enable_keepalive(object()) is False
