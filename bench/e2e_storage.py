"""The end-to-end benchmark's storage: real Redis hot state and outbox, PostgreSQL journal.

Built as ``acd run`` builds it (``acd.storage.Storage``), on a Redis namespace and a
PostgreSQL database of its own, both removed afterwards.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

from acd.core.engine import Engine
from acd.runtime.hot import HotStateWriter
from acd.storage import Storage
from connectors.memory.lease import MemoryLease
from connectors.redis.connect import redis_client
from connectors.redis.hotstate import RedisHotState
from connectors.redis.outbox import OutboxWriter, RedisOutbox
from connectors.spool import SpoolFile
from connectors.sql import SqlJournal

REDIS_URL = "redis://127.0.0.1:6379/0"
PG = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "test"]


@dataclass
class BenchStorage:
    """The storage and the hot-state writer of one run, and what to remove afterwards."""

    storage: Storage
    writer: HotStateWriter
    namespace: str
    database: str


def _psql(sql: str) -> None:
    subprocess.run(["psql", *PG, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True)


async def open_storage(engine: Engine, spool_dir: str) -> BenchStorage:
    """A fresh namespace and database; the journal's schema created; movers started."""
    tag = uuid.uuid4().hex[:10]
    namespace, database = f"bench-{tag}", f"acd_bench_{tag}"
    _psql(f"CREATE DATABASE {database}")
    client = redis_client(url=REDIS_URL)
    sql = SqlJournal.from_url(f"postgresql://postgres@127.0.0.1:5432/{database}")
    storage = Storage(
        hot=RedisHotState(client, namespace=namespace),
        outbox=RedisOutbox(
            redis=client, namespace=namespace, spool=SpoolFile(f"{spool_dir}/spool")
        ),
        sql=sql,
        lease=MemoryLease(),
        redis=client,
        writer=OutboxWriter(redis=client, namespace=namespace, store=sql, consumer="bench"),
        description="bench",
    )
    await storage.open(create_schema=True)
    writer = HotStateWriter(engine=engine, store=storage.hot, clock=time.time)
    return BenchStorage(storage=storage, writer=writer, namespace=namespace, database=database)


async def close_storage(bs: BenchStorage) -> tuple[int, int]:
    """Drain and close; returns (journal rows written, hot-state batches); removes it all."""
    await bs.storage.close(10.0)
    written = bs.writer.stats.batches
    cleaner = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in cleaner.scan_iter(match=f"acd:{bs.namespace}:*")]
        if keys:
            await cleaner.delete(*keys)
    finally:
        await cleaner.aclose()
    rows = subprocess.run(
        ["psql", *PG[:-2], "-d", bs.database, "-tAc", "SELECT count(*) FROM acd_call_event"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    _psql(f"DROP DATABASE IF EXISTS {bs.database} WITH (FORCE)")
    return int(rows or 0), written
