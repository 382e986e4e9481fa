"""Login over real TCP: plain and MD5, events off, refusals surfaced and retried slowly."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from acd.ami.errors import AmiLoginFailed
from tests.integration.ami.scripted_server import ScriptedAmiServer, wait_for
from tests.integration.ami.support import Clients, Recorder, TopOfRange


@pytest.mark.asyncio
async def test_logs_in_with_plain_secret(server: ScriptedAmiServer, clients: Clients) -> None:
    """A plain Login with the right secret logs in and ``wait_logged_in`` returns."""
    client = clients(server, auth="plain")
    await client.start()
    await client.wait_logged_in(2)
    assert client.logged_in
    (login,) = server.received("Login")
    assert login.get("Secret") == "acdsecret"
    assert login.get("Events") == "on"
    assert server.received("Challenge") == []
    assert client.stats().connected


@pytest.mark.asyncio
async def test_logs_in_with_md5_challenge_without_sending_the_secret(
    server: ScriptedAmiServer, clients: Clients
) -> None:
    """The MD5 login answers the server's challenge; the secret never crosses the wire."""
    client = clients(server)  # md5 is the default
    await client.start()
    await client.wait_logged_in(2)
    assert len(server.received("Challenge")) == 1
    (login,) = server.received("Login")
    assert login.get("AuthType") == "md5"
    assert login.get("Key")
    assert "Secret" not in login
    assert all("acdsecret" not in line for frame in server.actions for line in frame.lines)


@pytest.mark.asyncio
async def test_action_session_logs_in_with_events_off(
    server: ScriptedAmiServer, clients: Clients, recorder: Recorder
) -> None:
    """A client made for actions only asks Asterisk for no events at login."""
    client = clients(server, recorder, events=False)
    await client.start()
    await client.wait_logged_in(2)
    assert server.received("Login")[0].get("Events") == "off"
    assert server.connections[0].events_on is False
    assert recorder.connects == 1


@pytest.mark.asyncio
async def test_refused_login_surfaces_and_retries_ever_more_slowly(clients: Clients) -> None:
    """Bad credentials raise ``AmiLoginFailed``; retries back off, and stop once closed."""
    server = await ScriptedAmiServer().start()
    server.script.refuse_login = True
    try:
        client = clients(server, backoff_min_s=0.05, backoff_max_s=0.4, rng=TopOfRange())
        await client.start()
        with pytest.raises(AmiLoginFailed, match="Authentication failed"):
            await client.wait_logged_in(2)
        with pytest.raises(AmiLoginFailed):  # still refused: said at once, not after a wait
            await client.wait_logged_in(2)
        await wait_for(lambda: len(server.connect_times) >= 5, timeout=3, what="5 attempts")
        times = server.connect_times
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        # The ceiling doubles from 0.05 s up to 0.4 s: no hammering of the Asterisk.
        for gap, floor in zip(gaps, (0.05, 0.1, 0.2, 0.4), strict=False):
            assert gap >= floor * 0.9
        assert client.stats().login_failures >= 4
        assert client.stats().retry_delay_s == pytest.approx(0.4)
        assert not client.logged_in
        await client.close()
        attempts = len(server.connect_times)
        await asyncio.sleep(0.6)
        assert len(server.connect_times) == attempts
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_wait_logged_in_times_out_when_nothing_listens(clients: Clients) -> None:
    """With no AMI listening, ``wait_logged_in`` times out and says why; attempts are counted."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port: int = probe.getsockname()[1]
    client = clients(free_port)
    await client.start()
    with pytest.raises(TimeoutError, match=r"not logged in within 0\.3 s"):
        await client.wait_logged_in(0.3)
    assert client.stats().connect_failures >= 2
    assert not client.stats().connected


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and its key, made by the openssl command."""
    cert, key = directory / "ami.crt", directory / "ami.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=20,
    )
    return cert, key


@pytest.mark.asyncio
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_logs_in_over_tls_and_refuses_an_unknown_certificate(
    clients: Clients, tmp_path: Path
) -> None:
    """With a TLS context the session is encrypted; a certificate it cannot verify is refused."""
    cert, key = _self_signed(tmp_path)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    server = await ScriptedAmiServer(tls=server_side).start()
    try:
        trusting = clients(server, tls=ssl.create_default_context(cafile=str(cert)))
        await trusting.start()
        await trusting.wait_logged_in(3)
        assert len(server.received("Login")) == 1

        stranger = clients(server, tls=ssl.create_default_context())  # system CAs only
        await stranger.start()
        with pytest.raises(TimeoutError, match="CERTIFICATE_VERIFY_FAILED"):
            await stranger.wait_logged_in(0.5)
        assert stranger.stats().connect_failures >= 1
        assert stranger.stats().login_failures == 0
        assert len(server.received("Login")) == 1
    finally:
        await server.close()
