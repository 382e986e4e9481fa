"""Redis stopped under load: entries spool to local disk, then replay into the stream, none lost."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from acd.journal import EntryKind
from connectors.redis.connect import redis_client
from connectors.redis.outbox import OutboxWriter, RedisOutbox
from connectors.spool import SpoolFile
from connectors.sql import SqlJournal
from tests.integration.faults.servers import private_redis
from tests.integration.faults.support import Load, within

OUTAGE_S = 5.0


@pytest.mark.slow
@pytest.mark.asyncio
async def test_redis_stopped_under_load_spools_then_replays_every_entry_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Entries appended while Redis is down go to the spool and reach SQL once it is back."""
    caplog.set_level(logging.ERROR)  # the outage's warnings are expected
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    journal = SqlJournal.from_url(f"sqlite:///{tmp_path / 'journal.db'}")
    await journal.create_schema()
    spool = SpoolFile(tmp_path / "journal.spool")
    with private_redis(redis_dir) as server:
        client = redis_client(url=server.url)
        outbox = RedisOutbox(redis=client, namespace="fault", spool=spool, retry_max_s=0.5)
        writer = OutboxWriter(
            redis=client, namespace="fault", store=journal, consumer="w1", retry_max_s=0.5
        )
        load = Load(outbox, per_tick=20, tick_s=0.02)
        outbox.start()
        writing = asyncio.create_task(writer.run())
        try:
            load.start()
            await asyncio.sleep(2.0)
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(OUTAGE_S)
            during = outbox.metrics()
            on_disk = len(spool)
            await asyncio.to_thread(server.start)
            await asyncio.sleep(2.0)
            await load.stop()
            assert await outbox.drain(30.0)

            async def all_stored() -> bool:
                return await journal.count(EntryKind.CALL) >= len(load.ids)

            await within(30.0, all_stored, "every entry reaches the journal")
            stored = await journal.count(EntryKind.CALL)
        finally:
            await load.stop()
            await outbox.close(timeout=0)
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)
            await client.aclose()
            await journal.close()
    print(
        f"\n{len(load.ids)} entries, Redis down {OUTAGE_S:.0f} s: {during.spooled} spooled "
        f"({on_disk} on disk at the end of the outage), {outbox.streamed} streamed"
    )
    assert during.spooled > 0
    assert on_disk > 0
    assert len(spool) == 0
    assert stored == len(load.ids)
