"""The embedded outbox: a long outage moves the backlog to disk; a full disk keeps it in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.memory.outbox import MemoryOutbox
from connectors.spool import SpoolFile
from tests.unit.outbox.fakes import FakeJournalStore, eventually, make_entries


@pytest.mark.asyncio
async def test_store_down_past_the_spool_delay_moves_the_backlog_to_disk(tmp_path: Path) -> None:
    """After spool_after_s of outage the waiting entries are on disk, safe from a crash."""
    store = FakeJournalStore()
    store.down = True
    spool_path = tmp_path / "journal.spool"
    outbox = MemoryOutbox(
        store=store, spool=SpoolFile(spool_path), batch=50, spool_after_s=0.2, retry_max_s=0.05
    )
    outbox.start()
    entries = make_entries(120)
    outbox.append(entries)
    await eventually(lambda: outbox.metrics().spooled == 120)
    assert SpoolFile(spool_path).replay() == entries
    assert outbox.metrics().backlog == 120
    store.down = False
    assert await outbox.drain(5.0)
    await outbox.close()
    assert set(store.rows) == {e.id for e in entries}


@pytest.mark.asyncio
async def test_spool_that_cannot_be_written_keeps_entries_in_memory(tmp_path: Path) -> None:
    """When the disk refuses too, entries stay in memory past the bound rather than vanish."""
    store = FakeJournalStore()
    store.down = True
    directory = tmp_path / "spool"
    outbox = MemoryOutbox(
        store=store, spool=SpoolFile(directory / "journal.spool"), buffer_limit=10, retry_max_s=0.05
    )
    directory.rmdir()
    directory.write_bytes(b"")  # the spool's directory is now a file: every open fails
    outbox.start()
    entries = make_entries(50)
    outbox.append(entries)
    assert outbox.metrics().spooled == 0
    assert outbox.metrics().backlog == 50
    store.down = False
    assert await outbox.drain(5.0)
    await outbox.close()
    assert set(store.rows) == {e.id for e in entries}


@pytest.mark.asyncio
async def test_entries_appended_after_close_wait_in_the_spool(tmp_path: Path) -> None:
    """A late append after close is not lost: it is spooled for the next start."""
    spool_path = tmp_path / "journal.spool"
    outbox = MemoryOutbox(store=FakeJournalStore(), spool=SpoolFile(spool_path))
    outbox.start()
    await outbox.close()
    late = make_entries(3)
    outbox.append(late)
    assert SpoolFile(spool_path).replay() == late
