"""Fixtures of the AMI client tests: a scripted server per test, clients closed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.integration.ami.scripted_server import ScriptedAmiServer
from tests.integration.ami.support import Clients, Recorder


@pytest_asyncio.fixture
async def server() -> AsyncIterator[ScriptedAmiServer]:
    """A scripted AMI server listening on loopback, closed after the test."""
    started = await ScriptedAmiServer().start()
    yield started
    await started.close()


@pytest_asyncio.fixture
async def clients() -> AsyncIterator[Clients]:
    """A factory of quick AMI clients; every client made is closed after the test."""
    made = Clients()
    yield made
    await made.close_all()


@pytest.fixture
def recorder() -> Recorder:
    """A fresh recorder of client callbacks."""
    return Recorder()
