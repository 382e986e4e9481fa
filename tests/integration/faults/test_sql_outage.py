"""PostgreSQL stopped under load: the journal backlog waits in the Redis stream, then drains."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from acd.journal import EntryKind
from connectors.redis.connect import redis_client
from connectors.redis.outbox import OutboxWriter, RedisOutbox
from connectors.spool import SpoolFile
from connectors.sql import SqlJournal
from connectors.sql.schema import ENTRY_TABLES
from tests.integration.faults.servers import private_postgres
from tests.integration.faults.support import Load, within
from tests.services import redis_url, unique_name

OUTAGE_S = 10.0
RATE_PER_S = 1600  # about 30,000 entries over the test


@pytest.mark.slow
@pytest.mark.asyncio
async def test_postgres_stopped_ten_seconds_under_load_keeps_every_entry_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every entry appended before, during and after a 10 s PostgreSQL outage is stored once."""
    caplog.set_level(logging.ERROR)  # the outage's warnings are expected
    namespace = unique_name("fault_pg")
    client = redis_client(url=redis_url())
    with private_postgres() as pg:
        journal = SqlJournal.from_url(pg.url)
        await journal.create_schema()
        outbox = RedisOutbox(redis=client, namespace=namespace, spool=SpoolFile(tmp_path / "spool"))
        writer = OutboxWriter(
            redis=client, namespace=namespace, store=journal, consumer="w1", retry_max_s=1.0
        )
        load = Load(outbox, per_tick=RATE_PER_S // 50, tick_s=0.02)
        outbox.start()
        writing = asyncio.create_task(writer.run())
        try:
            load.start()
            await asyncio.sleep(4.0)
            await asyncio.to_thread(pg.stop, "fast")
            stopped_at = time.monotonic()
            await asyncio.sleep(OUTAGE_S)
            during = await writer.metrics()
            await asyncio.to_thread(pg.start)
            outage_s = time.monotonic() - stopped_at

            async def caught_up() -> bool:
                return (await writer.metrics()).backlog <= RATE_PER_S // 2

            catch_up_s = await within(60.0, caught_up, "the writer catches up after the outage")
            await asyncio.sleep(1.0)
            await load.stop()
            assert await outbox.drain(30.0)

            async def drained() -> bool:
                return (await writer.metrics()).backlog == 0

            await within(60.0, drained, "the stream drains into PostgreSQL")
            after = await writer.metrics()
            stored = await journal.count(EntryKind.CALL)
            table = ENTRY_TABLES[EntryKind.CALL]
            async with journal.engine.connect() as conn:
                ids = list((await conn.execute(sa.select(table.c.id))).scalars())
        finally:
            await load.stop()
            await outbox.close(timeout=0)
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)
            await journal.close()
            await client.delete(f"acd:{namespace}:journal", f"acd:{namespace}:journal:dead")
            await client.aclose()
    appended = len(load.ids)
    print(
        f"\n{appended} entries, PostgreSQL down {outage_s:.1f} s, backlog {during.backlog} "
        f"(oldest {during.oldest_age_s or 0:.1f} s), {after.retries} retries, "
        f"caught up {catch_up_s:.1f} s after the restart"
    )
    assert 20_000 <= appended <= 40_000
    assert during.retries > 0
    assert during.backlog > 0
    assert stored == appended
    assert len(ids) == len(set(ids)) == appended
    assert set(ids) == set(load.ids)
    assert after.written == appended
