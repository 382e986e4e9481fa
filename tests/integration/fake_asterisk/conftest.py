"""Fixtures: a fast fake Asterisk per test (20x time), and AMI connections closed afterwards."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from connectors.asterisk.fake import Dist, FakeAsterisk, FakeConfig
from tests.integration.fake_asterisk.support import AmiConn

SCALE = 0.05
"""Loop seconds per model second: a 2 s loop turn takes 0.1 s."""

FAST = FakeConfig(
    scale=SCALE,
    auth_fail_delay_s=0.05,
    ring_delay=Dist.fixed(1.0),
    talk=Dist.fixed(2.0),
    fallback_answer_delay=Dist.fixed(2.0),
    partner_answer_delay=Dist.fixed(1.0),
    hangup_linger_s=0.02,
    seed=7,
)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    """A started fake Asterisk on a free loopback port, stopped after the test."""
    server = await FakeAsterisk(FAST).start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def connect(fake: FakeAsterisk) -> AsyncIterator[Callable[[], Awaitable[AmiConn]]]:
    """Open AMI connections to the fake; all are closed after the test."""
    opened: list[AmiConn] = []

    async def open_one() -> AmiConn:
        conn = await AmiConn.open(fake.port)
        opened.append(conn)
        return conn

    yield open_one
    for conn in opened:
        await conn.close()


@pytest_asyncio.fixture
async def ami(connect: Callable[[], Awaitable[AmiConn]]) -> AmiConn:
    """One logged-in AMI session with every event."""
    conn = await connect()
    await conn.login()
    return conn


MakeFake = Callable[..., Awaitable[FakeAsterisk]]


@pytest_asyncio.fixture
async def make_fake() -> AsyncIterator[MakeFake]:
    """Start fakes with some settings changed from the fast defaults; all stopped afterwards."""
    started: list[FakeAsterisk] = []

    async def make(**changes: Any) -> FakeAsterisk:
        server = await FakeAsterisk(dataclasses.replace(FAST, **changes)).start()
        started.append(server)
        return server

    yield make
    for server in started:
        await server.stop()
