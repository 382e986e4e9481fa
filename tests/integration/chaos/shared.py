"""A rig on the machine's shared servers: a fresh journal database, a Redis namespace of its own."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.integration.chaos.rig import Rig, fresh_database, rig
from tests.services import postgres_url, redis_url, unique_name


@contextlib.asynccontextmanager
async def shared_rig(directory: Path, name: str, **options: Any) -> AsyncIterator[Rig]:
    """``rig(...)`` on a new database of the shared PostgreSQL and a unique Redis namespace."""
    namespace = unique_name(name).replace("_", "-")
    async with (
        fresh_database(postgres_url()) as journal_url,
        rig(
            directory, journal_url=journal_url, redis_url=redis_url(), namespace=namespace,
            **options,
        ) as r,
    ):  # fmt: skip
        yield r
