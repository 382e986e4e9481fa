"""One running service per test module (it starts in a fraction of a second; logins cost more)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.e2e.console.harness import Console, running_console


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    """The service with its console, the fake Asterisk, a logged-in client per role."""
    async with running_console(tmp_path_factory.mktemp("console")) as running:
        yield running
