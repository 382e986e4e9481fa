"""A steady stream of journal entries for the fault tests, and a bounded wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from acd.ports import Journal
from tests.unit.outbox.fakes import make_entries


class Load:
    """Appends ``per_tick`` entries every ``tick_s`` until stopped; remembers every id."""

    def __init__(self, journal: Journal, *, per_tick: int = 40, tick_s: float = 0.02) -> None:
        self.journal = journal
        self.per_tick = per_tick
        self.tick_s = tick_s
        self.ids: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start appending in the background."""
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        tick = 0
        while True:
            entries = make_entries(self.per_tick, tag=f"t{tick}-")
            self.journal.append(entries)
            self.ids.extend(e.id for e in entries)
            tick += 1
            await asyncio.sleep(self.tick_s)

    async def stop(self) -> None:
        """Stop appending."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


async def within(seconds: float, check: Callable[[], Awaitable[bool]], what: str) -> float:
    """Poll ``check`` until true; how long it took. Raises ``TimeoutError`` naming ``what``."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > seconds:
            raise TimeoutError(f"{what}: not within {seconds} s")
        await asyncio.sleep(0.1)
    return time.monotonic() - started
