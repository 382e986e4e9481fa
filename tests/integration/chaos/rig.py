"""The rig around a cluster: a journal database of its own, the fake Asterisk, Redis keys cleaned.

The rule: a scenario gets everything fresh (a new database on the shared PostgreSQL, or
a private server it may stop; a Redis namespace no other run uses) and gives it all back
however it ends, its instances stopped (SIGTERM, then SIGKILL) and their statuses kept.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
import sqlalchemy as sa

from connectors.asterisk.fake import Dist, FakeAsterisk
from connectors.sql import SqlJournal
from connectors.sql.engine import make_engine
from connectors.sql.lease import SqlLease
from connectors.sql.schema import call as call_table
from connectors.sql.schema import fenced_entry, lease
from tests.integration.chaos.cluster import (
    DEFAULT_TIMING,
    DEPT,
    PBX,
    TALK,
    Cluster,
    RigError,
    Timing,
    beating,
    start_fake,
    until,
    write_config,
)


class JournalDb:
    """The test's view of the journal database: the lease, its epochs, the call records."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.journal = SqlJournal.from_url(url)
        self.lease = SqlLease.of(self.journal)

    async def create_schema(self) -> None:
        """What `acd db upgrade` does."""
        await self.journal.create_schema()

    async def holder(self) -> tuple[str, int, float] | None:
        """(holder, epoch, seconds left by the database clock), or ``None`` before any."""
        query = sa.select(lease.c.holder, lease.c.epoch, lease.c.expires_s)
        async with self.journal.engine.connect() as conn:
            row = (await conn.execute(query.where(lease.c.name == self.lease.name))).first()
        if row is None:
            return None
        return row.holder, row.epoch, row.expires_s - await self.lease.db_now_s()

    async def holder_known(self) -> bool:
        """Whether some instance took the lease (it may have expired since)."""
        return await self.holder() is not None

    async def current(self) -> tuple[str, int, float]:
        """The lease's holder, epoch and seconds left; ``RigError`` if nobody ever took it."""
        found = await self.holder()
        if found is None:
            raise RigError("nobody took the lease")
        return found

    async def ended_call_ids(self) -> set[str]:
        """The call ids whose record has an outcome."""
        query = sa.select(call_table.c.call_id).where(call_table.c.outcome.is_not(None))
        async with self.journal.engine.connect() as conn:
            return set((await conn.execute(query)).scalars())

    async def fenced(self) -> int:
        """Entries the journal set aside as stale (made after a newer epoch began)."""
        async with self.journal.engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(fenced_entry)) or 0)

    async def close(self) -> None:
        """Close the pool."""
        await self.journal.close()


@contextlib.asynccontextmanager
async def fresh_database(server_url: str, *, prefix: str = "acd_chaos") -> AsyncIterator[str]:
    """A new database on a shared PostgreSQL (its URL), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(sa.engine.make_url(server_url).set(drivername="postgresql+asyncpg"))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield (
            sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()


async def drop_namespace(redis_url: str, namespace: str) -> None:
    """Delete the test's Redis keys (its namespace and the department's shared load)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"acd:{namespace}:*")]
        await client.delete(*keys, f"acd:load:{DEPT}")
    finally:
        await client.aclose()


async def stream_backlog(redis_url: str, namespace: str) -> int:
    """Entries still in the journal outbox stream (not yet written and trimmed)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        return int(await client.xlen(f"acd:{namespace}:journal"))
    finally:
        await client.aclose()


@dataclass
class Rig:
    """One scenario's cluster, fake Asterisk and journal; statuses and logs once stopped."""

    fake: FakeAsterisk
    db: JournalDb
    cluster: Cluster
    redis_url: str
    namespace: str
    statuses: dict[str, int] = field(default_factory=dict)
    logs: str = ""

    async def start(self, *, supervise: bool = False) -> tuple[str, int]:
        """Start every instance (and ``supervise`` them); the first leader and its epoch."""
        self.cluster.start()
        if supervise:
            self.cluster.supervise()
        await until(self.db.holder_known, 30, "a leader")
        await until(lambda: beating(self.fake), 10, "the first heartbeat")
        holder, epoch, _left = await self.db.current()
        return holder, epoch

    async def outbox_drained(self) -> bool:
        """Whether the journal stream is empty (every entry written to SQL and trimmed)."""
        return await stream_backlog(self.redis_url, self.namespace) == 0

    async def recorded(self, uniqueids: Iterable[str]) -> bool:
        """Whether every one of these callers has an ``acd_call`` row with its outcome."""
        return {f"{PBX}/{u}" for u in uniqueids} <= await self.db.ended_call_ids()

    async def unrecorded(self, uniqueids: Iterable[str]) -> int:
        """How many of these callers have no ``acd_call`` row with an outcome."""
        return len({f"{PBX}/{u}" for u in uniqueids} - await self.db.ended_call_ids())


@contextlib.asynccontextmanager
async def rig(
    directory: Path,
    *,
    journal_url: str,
    redis_url: str,
    namespace: str,
    nodes: Sequence[str] = ("a", "b"),
    agents: int = 10,
    timing: Timing = DEFAULT_TIMING,
    talk: Dist = TALK,
) -> AsyncIterator[Rig]:
    """The journal's schema made, the fake started, the instances configured (not started)."""
    db = JournalDb(journal_url)
    await db.create_schema()
    fake = await start_fake(agents=agents, talk=talk)
    config = write_config(
        directory / "acd.yaml", name=namespace, ami_port=fake.port, redis_url=redis_url,
        journal_url=journal_url, agents=agents, timing=timing,
    )  # fmt: skip
    cluster = Cluster(config, directory, names=nodes)
    made = Rig(fake=fake, db=db, cluster=cluster, redis_url=redis_url, namespace=namespace)
    try:
        yield made
    except RigError as err:
        raise RigError(f"{err}\n{cluster.tail()}") from err
    finally:
        made.statuses = await cluster.stop()
        made.logs = cluster.tail()
        cluster.kill_all()
        await fake.stop()
        await db.close()
        await drop_namespace(redis_url, namespace)
