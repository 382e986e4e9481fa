"""A writer killed between its SQL commit and its XACK: the batch comes again, is stored once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from acd.journal import EntryKind
from connectors.redis.connect import redis_client
from connectors.redis.outbox import OutboxWriter, RedisOutbox
from connectors.spool import SpoolFile
from connectors.sql import SqlJournal
from tests.integration.faults.support import within
from tests.services import redis_url, unique_name
from tests.unit.outbox.fakes import make_entries

ROOT = Path(__file__).resolve().parents[3]
ENTRIES = 3000
BATCH = 500
CHILD_TIMEOUT_S = 60.0


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("heir", "claim_idle_ms"),
    [("w1", 60_000), ("w2", 500)],
    ids=["same-writer-restarts", "another-writer-claims"],
)
async def test_writer_killed_between_commit_and_ack_leaves_no_duplicate(
    tmp_path: Path, heir: str, claim_idle_ms: int
) -> None:
    """SIGKILL after the 2nd commit: the next writer redelivers that batch; one row per entry."""
    url = redis_url()
    namespace = unique_name("fault_kill")
    journal_url = f"sqlite:///{tmp_path / 'journal.db'}"
    client = redis_client(url=url)
    journal = SqlJournal.from_url(journal_url)
    await journal.create_schema()
    stream = f"acd:{namespace}:journal"
    try:
        outbox = RedisOutbox(redis=client, namespace=namespace, spool=SpoolFile(tmp_path / "s"))
        outbox.start()
        outbox.append(make_entries(ENTRIES))
        assert await outbox.drain(10.0)
        await outbox.close()
        child = await asyncio.to_thread(
            subprocess.run,
            [
                *(sys.executable, "-m", "tests.integration.faults.writer_child"),
                *("--redis", url, "--namespace", namespace, "--journal", journal_url),
                *("--batch", str(BATCH), "--kill-after", "2"),
            ],
            cwd=ROOT,
            capture_output=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
        assert child.returncode == -signal.SIGKILL, child.stderr.decode()
        assert await journal.count(EntryKind.CALL) == 2 * BATCH
        pending = await client.xpending(stream, "journal-writers")
        assert pending["pending"] == BATCH  # committed, never acknowledged

        writer = OutboxWriter(
            redis=client,
            namespace=namespace,
            store=journal,
            consumer=heir,
            claim_idle_ms=claim_idle_ms,
            block_ms=100,
        )
        task = asyncio.create_task(writer.run())
        try:

            async def drained() -> bool:
                return await client.xlen(stream) == 0

            await within(30.0, drained, "the new writer drains the stream")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert await journal.count(EntryKind.CALL) == ENTRIES
        assert (await writer.metrics()).written == ENTRIES - 2 * BATCH
        assert (await client.xpending(stream, "journal-writers"))["pending"] == 0
    finally:
        await journal.close()
        await client.delete(stream, f"acd:{namespace}:journal:dead")
        await client.aclose()
