"""The hot-state contract: MemoryHotState and RedisHotState keep, fence and fan out alike.

Every test of the ``platform`` fixture runs twice: on the in-process store and on the real
Redis (skipped outside CI when Redis is down, failed under CI=true). Each test owns a
namespace of its own, and its department ids carry that namespace too, since department
loads are shared between platforms.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from acd.hotstate import Doc, HotBatch, HotSnapshot, HotStateFenced, HotStateUnavailable
from connectors.memory.hotstate import MemoryHotState, MemoryStore
from connectors.redis import keys as k
from connectors.redis.connect import connection_options, redis_client
from connectors.redis.hotstate import RedisHotState
from tests.services import REDIS_HOST, REDIS_PORT, redis_url, unique_name

Adapter = MemoryHotState | RedisHotState


class ManualClock:
    """A clock that moves only when told, and never backwards."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


@dataclass
class Platform:
    """One platform's hot state under test: open adapters on its store, age its keys."""

    namespace: str
    opener: Callable[..., Awaitable[Adapter]]
    ager: Callable[[float], Awaitable[None]]
    depts: list[str] = field(default_factory=list)

    async def open(self, namespace: str | None = None, **ttls: float) -> Adapter:
        """A new adapter (a new instance, a new client) on the same store."""
        return await self.opener(namespace or self.namespace, **ttls)

    async def age(self, seconds: float) -> None:
        """Let ``seconds`` pass for the store's TTLs."""
        await self.ager(seconds)

    def dept(self, name: str) -> str:
        """A department id no other test uses (loads are not namespaced)."""
        dept = f"{name}.{self.namespace}"
        self.depts.append(dept)
        return dept


async def delete_keys(client: Redis, namespace: str, depts: list[str]) -> None:
    """Remove what a test wrote: its namespace and its shared department loads."""
    found = [key async for key in client.scan_iter(match=k.Keyspace(namespace).pattern())]
    found += [k.load_key(d) for d in depts]
    if found:
        await client.delete(*found)


@pytest_asyncio.fixture(params=["memory", "redis"])
async def platform(request: pytest.FixtureRequest) -> AsyncIterator[Platform]:
    """The same contract over the in-process store and over the real Redis."""
    namespace = unique_name("hot")
    adapters: list[Adapter] = []
    if request.param == "memory":
        clock = ManualClock()
        store = MemoryStore(clock=clock)

        async def open_memory(ns: str, **ttls: float) -> Adapter:
            adapters.append(MemoryHotState(namespace=ns, store=store, **ttls))
            return adapters[-1]

        async def advance(seconds: float) -> None:
            clock.advance(seconds)

        plat = Platform(namespace, open_memory, advance)
        yield plat
        for adapter in adapters:
            await adapter.close()
        return

    url = redis_url()
    clients: list[Redis] = []
    namespaces = {namespace}

    async def open_redis(ns: str, **ttls: float) -> Adapter:
        clients.append(redis_client(url=url))
        namespaces.add(ns)
        adapters.append(RedisHotState(clients[-1], namespace=ns, **ttls))
        return adapters[-1]

    plat = Platform(namespace, open_redis, asyncio.sleep)
    yield plat
    for adapter in adapters:
        await adapter.close()
    async with redis_client(url=url) as admin:
        for ns in namespaces:
            await delete_keys(admin, ns, plat.depts)
    for client in clients:
        await client.aclose()


def call_doc(state: str, **extra: Any) -> Doc:
    return {"dept": "75", "state": state, "enqueued_at": 1_700_000_000.25, **extra}


def agent_doc(state: str) -> Doc:
    return {"dept": "75", "state": state, "skills": ["adulte", "pédiatrie"], "calls": 3}


def load_doc(waiting: int) -> Doc:
    return {"waiting": waiting, "oldest_s": 12.5, "free": 0, "at": 1_700_000_000.0}


# -- writing and reading back --------------------------------------------------------------


@pytest.mark.asyncio
async def test_written_calls_agents_and_loads_come_back_on_load(platform: Platform) -> None:
    """A batch written by the leader is what a snapshot returns, documents unchanged."""
    hot = await platform.open()
    dept = platform.dept("75")
    calls = {"pbx1/1700000000.1": call_doc("waiting"), "pbx1/1700000000.2": call_doc("ringing")}
    agents = {"75-arm1": agent_doc("talking")}
    notices = [{"kind": "call-waiting", "call": "pbx1/1700000000.1"}]
    batch = HotBatch(calls=dict(calls), agents=agents, loads={dept: load_doc(4)}, notices=notices)
    await hot.write(batch, epoch=1)
    snap = await hot.load()
    assert snap == HotSnapshot(epoch=1, calls=calls, agents=agents, loads={dept: load_doc(4)})


@pytest.mark.asyncio
async def test_empty_store_loads_as_epoch_zero_and_nothing(platform: Platform) -> None:
    """A platform never written has epoch 0 and no calls, agents or loads."""
    hot = await platform.open()
    assert await hot.load() == HotSnapshot(epoch=0, calls={}, agents={}, loads={})
    assert await hot.loads_of([]) == {}


@pytest.mark.asyncio
async def test_terminal_call_leaves_the_snapshot(platform: Platform) -> None:
    """A call written as ``None`` (it ended) is gone from the next snapshot; others stay."""
    hot = await platform.open()
    await hot.write(HotBatch(calls={"c1": call_doc("talking"), "c2": call_doc("waiting")}), epoch=1)
    await hot.write(HotBatch(calls={"c1": None}), epoch=1)
    assert (await hot.load()).calls == {"c2": call_doc("waiting")}
    await hot.write(HotBatch(calls={"c-never-seen": None}), epoch=1)
    assert (await hot.load()).calls == {"c2": call_doc("waiting")}


@pytest.mark.asyncio
async def test_later_write_of_a_call_replaces_it(platform: Platform) -> None:
    """The last document written for a call is the one kept."""
    hot = await platform.open()
    await hot.write(HotBatch(calls={"c1": call_doc("waiting")}), epoch=1)
    await hot.write(HotBatch(calls={"c1": call_doc("talking", agent="75-arm1")}), epoch=1)
    assert (await hot.load()).calls == {"c1": call_doc("talking", agent="75-arm1")}


@pytest.mark.asyncio
async def test_restarted_instance_loads_what_the_previous_one_wrote(platform: Platform) -> None:
    """A new instance on the same store starts from the state its predecessor left."""
    first = await platform.open()
    dept = platform.dept("92")
    await first.write(
        HotBatch(calls={"c1": call_doc("waiting")}, agents={"92-arm4": agent_doc("paused")}),
        epoch=7,
    )
    await first.write(HotBatch(loads={dept: load_doc(1)}), epoch=7)
    await first.close()
    second = await platform.open()
    assert await second.load() == HotSnapshot(
        epoch=7,
        calls={"c1": call_doc("waiting")},
        agents={"92-arm4": agent_doc("paused")},
        loads={dept: load_doc(1)},
    )


@pytest.mark.asyncio
async def test_platforms_sharing_a_store_keep_their_calls_apart(platform: Platform) -> None:
    """Two namespaces on one store see their own calls, agents and epochs only."""
    idf = await platform.open()
    hdf = await platform.open(unique_name("hot"))
    await idf.write(HotBatch(calls={"c1": call_doc("waiting")}), epoch=5)
    await hdf.write(HotBatch(agents={"59-arm1": agent_doc("idle")}), epoch=1)
    assert await idf.load() == HotSnapshot(
        epoch=5, calls={"c1": call_doc("waiting")}, agents={}, loads={}
    )
    assert await hdf.load() == HotSnapshot(
        epoch=1, calls={}, agents={"59-arm1": agent_doc("idle")}, loads={}
    )


# -- atomicity ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_batch_with_a_bad_document_writes_nothing(platform: Platform) -> None:
    """A document that is not JSON (NaN, a set) fails the whole batch before any change."""
    hot = await platform.open()
    subscriber = hot.notices()
    await subscriber.ready()
    await hot.write(HotBatch(calls={"c1": call_doc("waiting")}), epoch=1)
    for bad in ({"waiting": math.nan}, {"agents": {"75-arm1"}}):
        batch = HotBatch(
            calls={"c1": None, "c2": call_doc("waiting")},
            loads={platform.dept("75"): bad},
            notices=[{"kind": "bad"}],
        )
        with pytest.raises((ValueError, TypeError)):
            await hot.write(batch, epoch=2)
    await hot.write(HotBatch(notices=[{"kind": "after"}]), epoch=1)
    assert await hot.load() == HotSnapshot(
        epoch=1, calls={"c1": call_doc("waiting")}, agents={}, loads={}
    )
    assert await anext(subscriber) == {"kind": "after"}


@pytest.mark.asyncio
async def test_a_reader_never_sees_half_a_batch(platform: Platform) -> None:
    """Snapshots taken while batches are written show every batch whole or not at all."""
    writer = await platform.open()
    reader = await platform.open()
    calls = [f"c{i}" for i in range(20)]
    agents = [f"75-arm{i}" for i in range(20)]
    done = asyncio.Event()

    async def write_versions() -> None:
        for version in range(1, 60):
            doc = {"version": version}
            await writer.write(
                HotBatch(calls=dict.fromkeys(calls, doc), agents=dict.fromkeys(agents, doc)),
                epoch=1,
            )
            await asyncio.sleep(0)
        done.set()

    task = asyncio.create_task(write_versions())
    seen = 0
    while not done.is_set():
        snap = await reader.load()
        docs = [*snap.calls.values(), *snap.agents.values()]
        assert len({d["version"] for d in docs}) <= 1, docs
        assert len(docs) in (0, 40)
        seen += 1
        await asyncio.sleep(0)
    await task
    assert seen > 1


# -- fencing -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_stale_leader_is_fenced_and_writes_nothing(platform: Platform) -> None:
    """After epoch 2 wrote, an epoch-1 batch is refused whole; epoch 3 then goes through."""
    new_leader = await platform.open()
    old_leader = await platform.open()
    subscriber = new_leader.notices()
    await subscriber.ready()
    dept = platform.dept("75")
    await new_leader.write(
        HotBatch(calls={"c1": call_doc("waiting")}, notices=[{"n": "epoch 2"}]), epoch=2
    )
    stale = HotBatch(
        calls={"c1": None, "c2": call_doc("waiting")},
        agents={"75-arm1": agent_doc("idle")},
        loads={dept: load_doc(9)},
        notices=[{"n": "epoch 1"}],
    )
    with pytest.raises(HotStateFenced) as refused:
        await old_leader.write(stale, epoch=1)
    assert (refused.value.epoch, refused.value.current) == (1, 2)
    assert refused.value.slug == "stale-epoch"
    assert await old_leader.load() == HotSnapshot(
        epoch=2, calls={"c1": call_doc("waiting")}, agents={}, loads={}
    )
    assert await old_leader.loads_of([dept]) == {}
    await new_leader.write(
        HotBatch(calls={"c3": call_doc("ringing")}, notices=[{"n": "3"}]), epoch=3
    )
    snap = await new_leader.load()
    assert snap.epoch == 3
    assert set(snap.calls) == {"c1", "c3"}
    assert [await anext(subscriber), await anext(subscriber)] == [{"n": "epoch 2"}, {"n": "3"}]


@pytest.mark.asyncio
async def test_leader_keeps_writing_with_its_own_epoch(platform: Platform) -> None:
    """Writes at the stored epoch are accepted: the leader writes many batches with one."""
    hot = await platform.open()
    for n in range(3):
        await hot.write(HotBatch(calls={f"c{n}": call_doc("waiting")}), epoch=4)
    snap = await hot.load()
    assert (snap.epoch, len(snap.calls)) == (4, 3)


@pytest.mark.asyncio
async def test_empty_batch_fences_the_store_for_a_new_leader(platform: Platform) -> None:
    """A new leader's empty write raises the stored epoch: the old one is fenced at once."""
    old_leader = await platform.open()
    new_leader = await platform.open()
    await old_leader.write(HotBatch(calls={"c1": call_doc("waiting")}), epoch=1)
    await new_leader.write(HotBatch(), epoch=2)
    with pytest.raises(HotStateFenced):
        await old_leader.write(HotBatch(calls={"c1": None}), epoch=1)
    assert await new_leader.load() == HotSnapshot(
        epoch=2, calls={"c1": call_doc("waiting")}, agents={}, loads={}
    )


@pytest.mark.asyncio
async def test_epoch_out_of_range_is_refused_before_writing(platform: Platform) -> None:
    """A negative epoch, or one past 2**53 (inexact in Lua), is a bug: ValueError."""
    hot = await platform.open()
    for epoch in (-1, 2**53):
        with pytest.raises(ValueError, match="epoch"):
            await hot.write(HotBatch(calls={"c1": call_doc("waiting")}), epoch=epoch)
    assert (await hot.load()).calls == {}


# -- department loads ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_partner_reads_a_department_load_under_its_id(platform: Platform) -> None:
    """A load written by one platform is read by another under the department's id."""
    samu_60 = await platform.open()
    idf = await platform.open(unique_name("hot"))
    dept_60, dept_75 = platform.dept("samu-60"), platform.dept("75")
    await samu_60.write(HotBatch(loads={dept_60: load_doc(12)}), epoch=1)
    await idf.write(HotBatch(loads={dept_75: load_doc(0)}), epoch=1)
    unknown = platform.dept("samu-02")
    assert await idf.loads_of([dept_60, unknown, dept_75, dept_60]) == {
        dept_60: load_doc(12),
        dept_75: load_doc(0),
    }
    assert (await idf.load()).loads == {dept_75: load_doc(0)}


@pytest.mark.asyncio
async def test_load_not_refreshed_within_its_ttl_becomes_unknown(platform: Platform) -> None:
    """A load older than its TTL is absent for partners and from the snapshot alike."""
    samu_60 = await platform.open(load_ttl_s=0.3)
    dept = platform.dept("samu-60")
    await samu_60.write(HotBatch(loads={dept: load_doc(3)}), epoch=1)
    await platform.age(0.2)
    await samu_60.write(HotBatch(loads={dept: load_doc(4)}), epoch=1)  # refreshed
    await platform.age(0.2)
    assert await samu_60.loads_of([dept]) == {dept: load_doc(4)}
    await platform.age(0.15)
    assert await samu_60.loads_of([dept]) == {}
    assert (await samu_60.load()).loads == {}


@pytest.mark.asyncio
async def test_calls_left_behind_expire_and_leave_the_snapshot(platform: Platform) -> None:
    """A call key past its TTL (a crashed writer's leftover) is dropped from the snapshot."""
    hot = await platform.open(call_ttl_s=0.3)
    await hot.write(HotBatch(calls={"c-old": call_doc("waiting")}), epoch=1)
    await platform.age(0.2)
    await hot.write(HotBatch(calls={"c-new": call_doc("waiting")}), epoch=1)
    await platform.age(0.15)
    assert (await hot.load()).calls == {"c-new": call_doc("waiting")}


# -- notices -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_console_receives_notices_in_order(platform: Platform) -> None:
    """Every subscriber gets every notice written after it subscribed, in write order."""
    hot = await platform.open()
    other_instance = await platform.open()
    early, late = hot.notices(), other_instance.notices()
    await early.ready()
    await hot.write(HotBatch(notices=[{"n": 1}, {"n": 2}]), epoch=1)
    await late.ready()
    await hot.write(HotBatch(calls={"c1": call_doc("waiting")}, notices=[{"n": 3}]), epoch=1)
    await hot.write(HotBatch(notices=[{"n": 4}, {"n": 5, "text": "SAMU 75 saturé"}]), epoch=1)
    got_early = [await anext(early) for _ in range(5)]
    got_late = [await anext(late) for _ in range(3)]
    assert got_early == [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}, {"n": 5, "text": "SAMU 75 saturé"}]
    assert got_late == got_early[2:]


@pytest.mark.asyncio
async def test_closing_the_adapter_ends_a_waiting_console_reader(platform: Platform) -> None:
    """A reader blocked on the next notice stops when the adapter closes."""
    hot = await platform.open()
    stream = hot.notices()
    await stream.ready()

    async def read_all() -> list[Doc]:
        return [doc async for doc in stream]

    reader = asyncio.create_task(read_all())
    await hot.write(HotBatch(notices=[{"n": 1}]), epoch=1)
    await asyncio.sleep(0.05)
    await hot.close()
    assert await asyncio.wait_for(reader, timeout=5) == [{"n": 1}]


# -- the real Redis only ---------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: connecting to it is refused


@pytest.mark.asyncio
async def test_unreachable_redis_is_reported_unavailable_within_seconds() -> None:
    """Every call on a Redis nobody listens to raises HotStateUnavailable, quickly."""
    async with redis_client(url=f"redis://127.0.0.1:{_closed_port()}/0") as client:
        hot = RedisHotState(client, namespace=unique_name("hot"))
        started = time.monotonic()
        with pytest.raises(HotStateUnavailable) as failed:
            await hot.write(HotBatch(calls={"c1": call_doc("waiting")}), epoch=1)
        assert failed.value.slug == "hot-state-unavailable"
        with pytest.raises(HotStateUnavailable):
            await hot.load()
        with pytest.raises(HotStateUnavailable):
            await hot.loads_of(["75"])
        with pytest.raises(HotStateUnavailable):
            await hot.notices().ready()
        assert time.monotonic() - started < 10
        await hot.close()


@pytest.fixture(scope="module")
def sentinel_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A Redis Sentinel (``redis-server --sentinel``) watching the test Redis as ``acd-test``."""
    redis_url()
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed: no Sentinel to start")
    port = _closed_port()
    conf: Path = tmp_path_factory.mktemp("sentinel") / "sentinel.conf"
    conf.write_text(
        f'port {port}\nbind 127.0.0.1\ndaemonize no\nsave ""\n'
        f"sentinel resolve-hostnames yes\nsentinel monitor acd-test {REDIS_HOST} {REDIS_PORT} 1\n"
    )
    proc = subprocess.Popen(
        [server, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.asyncio
async def test_hot_state_reaches_the_master_through_sentinel(sentinel_port: int) -> None:
    """With sentinels configured, writes and snapshots go to the master they name."""
    namespace = unique_name("hot")
    client = redis_client(
        url="redis://ignored-host/0",
        sentinels=[("127.0.0.1", sentinel_port)],
        master_name="acd-test",
    )
    try:
        hot = RedisHotState(client, namespace=namespace)
        await hot.write(HotBatch(calls={"c1": call_doc("waiting")}), epoch=1)
        assert (await hot.load()).calls == {"c1": call_doc("waiting")}
    finally:
        await delete_keys(client, namespace, [])
        await client.aclose()


@pytest_asyncio.fixture
async def lone_redis() -> AsyncIterator[RedisHotState]:
    """A RedisHotState on the real Redis whose client carries a name of its own."""
    namespace = unique_name("hot")
    # Our connection settings (their retry is what reconnects), under a name to find it by.
    options = {**connection_options(password=None), "client_name": unique_name("acd-test")}
    async with Redis.from_url(redis_url(), **options) as client:
        hot = RedisHotState(client, namespace=namespace)
        try:
            yield hot
        finally:
            await hot.close()
            await delete_keys(client, namespace, [])


@pytest.mark.asyncio
async def test_redis_that_lost_its_scripts_still_takes_writes(lone_redis: RedisHotState) -> None:
    """After a restart (script cache empty) the fenced write is loaded again, not failed."""
    hot = lone_redis
    await hot.write(HotBatch(calls={"c1": call_doc("waiting")}), epoch=1)
    await hot.client.script_flush()
    await hot.write(HotBatch(calls={"c2": call_doc("waiting")}), epoch=1)
    assert set((await hot.load()).calls) == {"c1", "c2"}


@pytest.mark.asyncio
async def test_console_reader_resubscribes_after_its_connection_drops(
    lone_redis: RedisHotState,
) -> None:
    """A subscriber whose connection is killed reconnects, resubscribes, and reads on."""
    hot = lone_redis
    stream = hot.notices()
    await stream.ready()
    name = hot.client.connection_pool.connection_kwargs["client_name"]
    killed = 0
    for line in await hot.client.client_list(_type="pubsub"):
        if line["name"] == name:
            killed += await hot.client.client_kill_filter(_id=line["id"])
    assert killed == 1
    reader = asyncio.create_task(anext(stream))
    # Pub/sub keeps nothing for a subscriber away: write until it is back.
    for n in range(200):
        await hot.write(HotBatch(notices=[{"n": n}]), epoch=1)
        await asyncio.wait({reader}, timeout=0.02)
        if reader.done():
            break
    assert "n" in await reader


@pytest.mark.asyncio
async def test_foreign_message_on_the_notice_channel_is_skipped(lone_redis: RedisHotState) -> None:
    """A message on the channel that is not a JSON object is counted and skipped."""
    hot = lone_redis
    stream = hot.notices()
    await stream.ready()
    await hot.client.publish(hot.keys.notices, b"\xff not json")
    await hot.client.publish(hot.keys.notices, "[1, 2]")
    await hot.write(HotBatch(notices=[{"kind": "agent-paused"}]), epoch=1)
    assert await anext(stream) == {"kind": "agent-paused"}
    assert stream.skipped == 2


# -- the in-process store only ---------------------------------------------------------------
@pytest.mark.asyncio
async def test_memory_console_reader_too_far_behind_is_cut_off() -> None:
    """An in-process subscriber that leaves its backlog full is cut off, as Redis does."""
    hot = MemoryHotState(namespace=unique_name("hot"), store=MemoryStore(notice_backlog=2))
    slow = hot.notices()
    await slow.ready()
    await hot.write(HotBatch(notices=[{"n": 1}, {"n": 2}, {"n": 3}]), epoch=1)
    with pytest.raises(HotStateUnavailable, match="behind"):
        await anext(slow)
    fresh = hot.notices()
    await fresh.ready()
    await hot.write(HotBatch(notices=[{"n": 4}]), epoch=1)
    assert await anext(fresh) == {"n": 4}
    await hot.close()


# -- memory and Redis agree on any history --------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
_docs = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        _scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
        max_leaves=6,
    ),
    max_size=4,
)
_batches = st.builds(
    HotBatch,
    calls=st.dictionaries(st.sampled_from(["c0", "c1", "c2", "c3"]), st.none() | _docs, max_size=3),
    agents=st.dictionaries(st.sampled_from(["a0", "a1", "a2"]), _docs, max_size=2),
    loads=st.dictionaries(st.sampled_from(["l0", "l1"]), _docs, max_size=2),
    notices=st.lists(_docs, max_size=2),
)
_histories = st.lists(st.tuples(st.integers(0, 4), _batches), min_size=1, max_size=12)


@pytest.fixture(scope="module")
def shared_redis_url() -> str:
    """The test Redis's URL, checked once for the module's property test."""
    return redis_url()


async def _replay(hot: Adapter, history: list[tuple[int, HotBatch]]) -> list[object]:
    outcomes: list[object] = []
    for epoch, batch in history:
        try:
            await hot.write(batch, epoch=epoch)
            outcomes.append("written")
        except HotStateFenced as fenced:
            outcomes.append(("fenced", fenced.current))
    return outcomes


async def _both(url: str, history: list[tuple[int, HotBatch]]) -> None:
    namespace = unique_name("hot")
    # Load ids unique to this history: loads are shared between namespaces.
    renamed = [
        (
            e,
            HotBatch(
                b.calls, b.agents, {f"{i}.{namespace}": d for i, d in b.loads.items()}, b.notices
            ),
        )
        for e, b in history
    ]
    load_ids = [f"{i}.{namespace}" for i in ("l0", "l1")]
    memory = MemoryHotState(namespace=namespace)
    async with redis_client(url=url) as client:
        redis = RedisHotState(client, namespace=namespace)
        try:
            assert await _replay(redis, renamed) == await _replay(memory, renamed)
            assert await redis.load() == await memory.load()
            assert await redis.loads_of(load_ids) == await memory.loads_of(load_ids)
        finally:
            await delete_keys(client, namespace, load_ids)


@given(history=_histories)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_memory_and_redis_end_in_the_same_state(
    shared_redis_url: str, history: list[tuple[int, HotBatch]]
) -> None:
    """Any sequence of batches and epochs leaves both stores alike, fenced writes included."""
    asyncio.run(_both(shared_redis_url, history))
