"""Writing into the journal store: a failed batch is retried with growing delays, never dropped."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from acd.journal import JournalEntry
from connectors.asterisk.backoff import Backoff
from connectors.memory.outbox import OutboxMetrics, StoreRetry
from tests.unit.outbox.fakes import FakeJournalStore, make_entries


class FlakyStore(FakeJournalStore):
    """Fails its first ``failures_left`` writes, with the given error."""

    def __init__(self, failures_left: int, error: Exception) -> None:
        super().__init__()
        self.failures_left = failures_left
        self.error = error

    async def write(self, entries: Sequence[JournalEntry]) -> int:
        if self.failures_left:
            self.failures_left -= 1
            raise self.error
        return await super().write(entries)


class Sleeps:
    """Records the delays asked for instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def _retry(store: FakeJournalStore, sleeps: Sleeps, counters: OutboxMetrics) -> StoreRetry:
    backoff = Backoff(min_s=0.05, max_s=1.0, rng=random.Random(7))
    return StoreRetry(store, counters=counters, backoff=backoff, sleep=sleeps)


@pytest.mark.asyncio
@pytest.mark.parametrize("error", [ConnectionRefusedError("refused"), RuntimeError("a bug")])
async def test_batch_is_retried_until_the_store_takes_it(error: Exception) -> None:
    """Any failure (outage or bug) keeps the batch: it is retried until stored, then counted."""
    store, sleeps, counters = FlakyStore(6, error), Sleeps(), OutboxMetrics()
    batch = make_entries(10)
    assert await _retry(store, sleeps, counters).write(batch)
    assert set(store.rows) == {e.id for e in batch}
    assert counters.retries == 6
    assert counters.written == 10
    assert len(sleeps.delays) == 6


@pytest.mark.asyncio
async def test_retry_delays_grow_to_the_cap_and_restart_after_success() -> None:
    """Delays stay under a doubling ceiling capped at max_s; a success starts them over."""
    store, sleeps, counters = FlakyStore(8, OSError("down")), Sleeps(), OutboxMetrics()
    retry = _retry(store, sleeps, counters)
    assert await retry.write(make_entries(1))
    ceilings = [min(1.0, 0.05 * 2**n) for n in range(8)]
    assert all(0.05 <= d <= c for d, c in zip(sleeps.delays, ceilings, strict=True))
    assert retry.backoff.attempt == 0


@pytest.mark.asyncio
async def test_writer_can_give_up_and_keep_the_batch_for_later() -> None:
    """``give_up`` ends the retries without storing: the caller still holds the batch."""
    store, sleeps, counters = FlakyStore(100, OSError("down")), Sleeps(), OutboxMetrics()
    attempts: list[float] = []

    def give_up(outage_s: float) -> bool:
        attempts.append(outage_s)
        return len(attempts) == 3

    assert not await _retry(store, sleeps, counters).write(make_entries(2), give_up=give_up)
    assert store.rows == {}
    assert counters.retries == 3
    assert counters.written == 0
