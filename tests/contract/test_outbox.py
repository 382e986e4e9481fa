"""The journal outbox contract, on Redis (stream + writer) and in memory: none lost, none twice."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from acd.journal import JournalEntry
from connectors.memory.outbox import MemoryOutbox, OutboxMetrics
from connectors.redis.connect import redis_client
from connectors.redis.outbox import OutboxWriter, RedisOutbox
from connectors.spool import SpoolFile
from tests.services import redis_url, unique_name
from tests.unit.outbox.fakes import FakeJournalStore, eventually, make_entries, unreadable_entry

SETTLE_S = 10.0


@dataclass
class Rig:
    """One outbox under test, its store, and the backend's own ways in."""

    store: FakeJournalStore
    opener: Callable[..., Awaitable[Any]]
    metrics_of: Callable[[Any], Awaitable[OutboxMetrics]]
    inject: Callable[[Any], Awaitable[None]]
    outboxes: list[Any] = field(default_factory=list)

    async def open(self, **options: Any) -> Any:
        """A new outbox (a new process, as far as it knows) over the same store and spool."""
        outbox = await self.opener(**options)
        self.outboxes.append(outbox)
        return outbox

    async def metrics(self, outbox: Any) -> OutboxMetrics:
        """The outbox's figures (for Redis, the producer's and the writer's together)."""
        return await self.metrics_of(outbox)

    async def settled(self, outbox: Any, expected: list[JournalEntry]) -> None:
        """Wait until every expected entry is stored and nothing waits anywhere."""

        async def done() -> bool:
            stored = all(e.id in self.store.rows for e in expected)
            return stored and (await self.metrics(outbox)).backlog == 0

        await eventually(done)


@dataclass
class RedisSide:
    """The Redis half of a rig: the producer, its writer task, and the client."""

    outbox: RedisOutbox
    writer: OutboxWriter
    task: asyncio.Task[None]

    def append(self, entries: list[JournalEntry]) -> None:
        self.outbox.append(entries)

    async def close(self, timeout: float = 5.0) -> None:
        await self.outbox.close(timeout)
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def _redis_metrics(side: RedisSide) -> OutboxMetrics:
    mine, theirs = side.outbox.metrics(), await side.writer.metrics()
    ages = [a for a in (mine.oldest_age_s, theirs.oldest_age_s) if a is not None]
    return OutboxMetrics(
        backlog=mine.backlog + theirs.backlog,
        oldest_age_s=max(ages, default=None),
        written=theirs.written,
        retries=theirs.retries,
        bad=mine.bad + theirs.bad,
        spooled=mine.spooled,
    )


async def _memory_metrics(outbox: MemoryOutbox) -> OutboxMetrics:
    return outbox.metrics()


@pytest_asyncio.fixture(params=["redis", "memory"])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    """The same contract over RedisOutbox + OutboxWriter (real Redis) and MemoryOutbox."""
    store = FakeJournalStore()
    spool_path = tmp_path / "journal.spool"
    if request.param == "memory":

        async def open_memory(**options: Any) -> MemoryOutbox:
            options = {"batch": 100, "retry_max_s": 0.1, "spool_after_s": 0.3, **options}
            outbox = MemoryOutbox(store=store, spool=SpoolFile(spool_path, fsync=False), **options)
            outbox.start()
            return outbox

        async def inject_memory(outbox: MemoryOutbox) -> None:
            outbox.spool.append([unreadable_entry()])

        made = Rig(store, open_memory, _memory_metrics, inject_memory)
        yield made
        for outbox in made.outboxes:
            await outbox.close(timeout=0)
        return

    namespace = unique_name("outbox")
    client = redis_client(url=redis_url())

    async def open_redis(**options: Any) -> RedisSide:
        outbox = RedisOutbox(
            redis=client,
            namespace=namespace,
            spool=SpoolFile(spool_path, fsync=False),
            retry_max_s=0.1,
            **options,
        )
        writer = OutboxWriter(
            redis=client,
            namespace=namespace,
            store=store,
            consumer="w1",
            batch=100,
            block_ms=50,
            retry_max_s=0.1,
        )
        outbox.start()
        return RedisSide(outbox, writer, asyncio.create_task(writer.run()))

    async def inject_redis(side: RedisSide) -> None:
        await client.xadd(side.writer.stream, {"e": b"{not json"})

    made = Rig(store, open_redis, _redis_metrics, inject_redis)
    try:
        yield made
    finally:
        for side in made.outboxes:
            await side.close(timeout=0)
        await client.delete(f"acd:{namespace}:journal", f"acd:{namespace}:journal:dead")
        await client.aclose()


@pytest.mark.asyncio
async def test_every_appended_entry_is_written_exactly_once(rig: Rig) -> None:
    """Thousands of entries appended in batches of every size end up stored once each."""
    outbox = await rig.open()
    entries = make_entries(5000)
    position = 0
    for size in (1, 7, 250, 1000, 3, 2000):
        outbox.append(entries[position : position + size])
        position += size
        await asyncio.sleep(0)
    outbox.append(entries[position:])
    await rig.settled(outbox, entries)
    assert set(rig.store.rows) == {e.id for e in entries}
    metrics = await rig.metrics(outbox)
    assert metrics.written == 5000
    assert metrics.bad == 0


@pytest.mark.asyncio
async def test_store_outage_holds_entries_and_drains_when_it_returns(rig: Rig) -> None:
    """With the journal store down nothing is lost: entries wait, age, and drain on return."""
    outbox = await rig.open()
    rig.store.down = True
    entries = make_entries(500)
    outbox.append(entries)

    async def retried() -> bool:
        return (await rig.metrics(outbox)).retries >= 3

    await eventually(retried)
    waiting = await rig.metrics(outbox)
    assert rig.store.rows == {}
    assert waiting.backlog == 500
    assert waiting.oldest_age_s is not None
    assert waiting.oldest_age_s > 0
    rig.store.down = False
    await rig.settled(outbox, entries)
    assert len(rig.store.rows) == 500
    assert (await rig.metrics(outbox)).oldest_age_s is None


@pytest.mark.asyncio
async def test_unreadable_entry_is_counted_and_does_not_block_the_others(rig: Rig) -> None:
    """A bad entry is set aside and counted; the entries around it are all written."""
    outbox = await rig.open()
    before, after = make_entries(50), make_entries(50, tag="after")
    outbox.append(before)
    await rig.inject(outbox)
    outbox.append(after)
    await rig.settled(outbox, before + after)
    assert len(rig.store.rows) == 100
    assert (await rig.metrics(outbox)).bad == 1


@pytest.mark.asyncio
async def test_full_buffer_overflows_to_the_spool_not_the_floor(rig: Rig) -> None:
    """Past the memory bound, entries go to the local spool and are forwarded from there."""
    outbox = await rig.open(buffer_limit=10)
    entries = make_entries(300)
    outbox.append(entries)
    assert (await rig.metrics(outbox)).spooled == 290
    await rig.settled(outbox, entries)
    assert set(rig.store.rows) == {e.id for e in entries}


@pytest.mark.asyncio
async def test_entries_left_at_close_are_forwarded_by_the_next_outbox(rig: Rig) -> None:
    """An outbox closed while the store is down keeps its backlog; the next one delivers it."""
    first = await rig.open()
    rig.store.down = True
    entries = make_entries(200)
    first.append(entries)
    await first.close(timeout=0.2)
    assert rig.store.rows == {}
    rig.store.down = False
    second = await rig.open()
    await rig.settled(second, entries)
    assert set(rig.store.rows) == {e.id for e in entries}


# -- Redis only: the stream, the group, the writer's recovery ------------------------------------


@pytest_asyncio.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    """A client and a fresh namespace, whose keys are deleted afterwards."""
    namespace = unique_name("outbox")
    client = redis_client(url=redis_url())
    yield client, namespace
    await client.delete(f"acd:{namespace}:journal", f"acd:{namespace}:journal:dead")
    await client.aclose()


async def _streamed(client: Redis, namespace: str, entries: list[JournalEntry], tmp: Path) -> None:
    outbox = RedisOutbox(redis=client, namespace=namespace, spool=SpoolFile(tmp / "s", fsync=False))
    outbox.start()
    outbox.append(entries)
    assert await outbox.drain(SETTLE_S)
    await outbox.close()


@pytest.mark.asyncio
async def test_stream_is_trimmed_only_up_to_written_entries(
    redis: tuple[Redis, str], tmp_path: Path
) -> None:
    """Entries pending (SQL down) or unread stay in the stream; acknowledged ones are trimmed."""
    client, namespace = redis
    store = FakeJournalStore()
    writer = OutboxWriter(
        redis=client, namespace=namespace, store=store, consumer="w1", batch=10, retry_max_s=0.1
    )
    await writer.recover()
    await _streamed(client, namespace, make_entries(25), tmp_path)
    assert await writer.step() == 10
    assert await client.xlen(writer.stream) == 15
    store.down = True
    step = asyncio.create_task(writer.step())
    await eventually(lambda: store.failures >= 2)
    assert await client.xlen(writer.stream) == 15
    assert (await client.xpending(writer.stream, writer.group))["pending"] == 10
    store.down = False
    assert await step == 10
    assert await client.xlen(writer.stream) == 5
    assert await writer.step() == 5
    assert await client.xlen(writer.stream) == 0
    assert len(store.rows) == 25


class SimulatedCrash(Exception):
    """The writer dies between the SQL commit and the XACK."""


def _crash_once(_batch: object) -> None:
    raise SimulatedCrash


@pytest.mark.asyncio
@pytest.mark.parametrize(("consumer", "claim_idle_ms"), [("w1", 60_000), ("w2", 0)])
async def test_writer_dead_before_its_ack_gets_the_batch_redelivered_once(
    redis: tuple[Redis, str], tmp_path: Path, consumer: str, claim_idle_ms: int
) -> None:
    """Its own restart (same name) or another writer (claim) redelivers; one row each."""
    client, namespace = redis
    store = FakeJournalStore()
    entries = make_entries(30)
    common: dict[str, Any] = {"redis": client, "namespace": namespace, "store": store}
    dying = OutboxWriter(consumer="w1", batch=10, after_write=_crash_once, **common)
    await dying.recover()
    await _streamed(client, namespace, entries, tmp_path)
    with pytest.raises(SimulatedCrash):
        await dying.step()
    assert len(store.rows) == 10
    assert (await client.xpending(dying.stream, dying.group))["pending"] == 10
    heir = OutboxWriter(consumer=consumer, claim_idle_ms=claim_idle_ms, block_ms=50, **common)
    await heir.recover()
    while await heir.step():
        pass
    assert set(store.rows) == {e.id for e in entries}
    assert store.delivered == 40  # the 10 in doubt went twice; the store kept one row each
    assert (await client.xpending(heir.stream, heir.group))["pending"] == 0
    assert await client.xlen(heir.stream) == 0


@pytest.mark.asyncio
async def test_unreadable_stream_entry_goes_to_the_dead_letter_stream(
    redis: tuple[Redis, str],
) -> None:
    """A stream entry that is no journal entry is kept aside with its reason, and acknowledged."""
    client, namespace = redis
    writer = OutboxWriter(
        redis=client, namespace=namespace, store=FakeJournalStore(), consumer="w1", block_ms=50
    )
    await writer.recover()
    await client.xadd(writer.stream, {"e": b"garbage"})
    await client.xadd(writer.stream, {"other": b"field"})
    assert await writer.step() == 2
    dead: list[tuple[bytes, dict[bytes, bytes]]] = await client.xrange(writer.dead)  # type: ignore[assignment]
    assert [fields[b"e"] for _id, fields in dead] == [b"garbage", b""]
    assert all(fields[b"why"] for _id, fields in dead)
    assert (await writer.metrics()).bad == 2
    assert await client.xlen(writer.stream) == 0


@pytest.mark.asyncio
async def test_writer_recreates_its_group_when_the_stream_vanished(
    redis: tuple[Redis, str], tmp_path: Path
) -> None:
    """A Redis restarted without its data loses the group: the writer makes it again and goes on."""
    client, namespace = redis
    store = FakeJournalStore()
    writer = OutboxWriter(
        redis=client, namespace=namespace, store=store, consumer="w1", block_ms=50, retry_max_s=0.1
    )
    task = asyncio.create_task(writer.run())
    try:
        first, second = make_entries(20), make_entries(20, tag="second")
        await _streamed(client, namespace, first, tmp_path)
        await eventually(lambda: len(store.rows) == 20)
        await client.delete(writer.stream)
        await _streamed(client, namespace, second, tmp_path)
        await eventually(lambda: len(store.rows) == 40)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.asyncio
async def test_entries_spooled_while_redis_was_unreachable_are_replayed_later(
    redis: tuple[Redis, str], tmp_path: Path
) -> None:
    """With no Redis to reach, entries go to the spool; an outbox that reaches it replays them."""
    client, namespace = redis
    spool_path = tmp_path / "journal.spool"
    nowhere = redis_client(url=f"redis://127.0.0.1:{_closed_port()}/0")
    cut_off = RedisOutbox(redis=nowhere, namespace=namespace, spool=SpoolFile(spool_path))
    cut_off.start()
    entries = make_entries(300)
    cut_off.append(entries[:100])
    await eventually(lambda: cut_off.metrics().spooled == 100)
    cut_off.append(entries[100:])
    await cut_off.close(timeout=0.2)
    await nowhere.aclose()
    assert cut_off.metrics().spooled == 300
    assert len(SpoolFile(spool_path).replay()) == 300

    store = FakeJournalStore()
    reconnected = RedisOutbox(redis=client, namespace=namespace, spool=SpoolFile(spool_path))
    writer = OutboxWriter(
        redis=client, namespace=namespace, store=store, consumer="w1", block_ms=50
    )
    reconnected.start()
    task = asyncio.create_task(writer.run())
    try:
        assert await reconnected.drain(SETTLE_S)
        await eventually(lambda: len(store.rows) == 300)
    finally:
        await reconnected.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert set(store.rows) == {e.id for e in entries}
    assert SpoolFile(spool_path).replay() == []
