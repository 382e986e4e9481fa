"""What the outbox tests share: an idempotent in-memory journal store, entries, a bounded wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

import pytest

from acd.journal import EntryKind, JournalEntry, Uuid7Source
from connectors.sql.errors import JournalUnavailable

_ids = Uuid7Source()


def make_entries(count: int, *, tag: str = "c") -> list[JournalEntry]:
    """``count`` call entries with fresh UUIDv7 ids, in birth order."""
    return [
        JournalEntry(
            id=_ids(),
            kind=EntryKind.CALL,
            at=1_700_000_000.0 + i,
            epoch=1,
            fields={"call": f"{tag}{i}", "dept": "75", "state": "waiting"},
        )
        for i in range(count)
    ]


def unreadable_entry() -> JournalEntry:
    """An entry that encodes but never decodes back (its id is no UUID)."""
    return JournalEntry(id="not-a-uuid", kind=EntryKind.CALL, at=0.0, epoch=1)


class FakeJournalStore:
    """Keeps rows by entry id, as the SQL journal does; ``down`` makes every write fail."""

    def __init__(self) -> None:
        self.rows: dict[str, JournalEntry] = {}
        self.down = False
        self.delivered = 0
        """Entries handed to ``write`` while up (a redelivered one counts again)."""
        self.failures = 0

    async def write(self, entries: Sequence[JournalEntry]) -> int:
        """Insert the entries not yet stored; raise ``JournalUnavailable`` while down."""
        if self.down:
            self.failures += 1
            raise JournalUnavailable("journal store is down (test)")
        new = 0
        for entry in entries:
            if entry.id not in self.rows:
                self.rows[entry.id] = entry
                new += 1
        self.delivered += len(entries)
        return new


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``check`` (plain or async) until it holds; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not await _value(check()):
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


async def _value(result: bool | Awaitable[bool]) -> bool:
    return result if isinstance(result, bool) else await result
