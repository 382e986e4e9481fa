"""The hot-state writer: marks what decisions change, writes the latest documents in batches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from acd.core import events as ev
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId, DeptId
from acd.core.testing import simple_spec
from acd.hotstate import Doc, HotBatch, HotSnapshot, HotStateFenced, HotStateUnavailable
from acd.runtime.hot import HotStateWriter, PartnerLoadReader, partner_event


class FakeHotState:
    """Keeps written batches; can be switched down, or made to refuse an old epoch."""

    def __init__(self) -> None:
        self.batches: list[HotBatch] = []
        self.calls: dict[str, Doc] = {}
        self.published: dict[str, Doc] = {}
        self.down = False
        self.epoch = 0

    async def write(self, batch: HotBatch, *, epoch: int) -> None:
        if self.down:
            raise HotStateUnavailable("store down")
        if epoch < self.epoch:
            raise HotStateFenced(epoch=epoch, current=self.epoch)
        self.batches.append(batch)
        for cid, doc in batch.calls.items():
            if doc is None:
                self.calls.pop(cid, None)
            else:
                self.calls[cid] = doc

    async def load(self) -> HotSnapshot:
        return HotSnapshot(epoch=self.epoch, calls=dict(self.calls), agents={}, loads={})

    async def loads_of(self, ids: Sequence[str]) -> dict[str, Doc]:
        return {i: self.published[i] for i in ids if i in self.published}

    async def notices(self) -> AsyncIterator[Doc]:  # pragma: no cover - not used here
        if False:
            yield {}


def _decide(engine: Engine, writer: HotStateWriter, event: ev.Event, now: float) -> None:
    writer.on_decision(event, engine.handle(event, now))


def test_a_burst_of_decisions_makes_one_batch_with_the_latest_documents() -> None:
    """Three decisions about one call are written once, as the call stands at write time."""
    engine = Engine(simple_spec(agents_per_dept=1))
    writer = HotStateWriter(engine=engine, store=FakeHotState(), clock=lambda: 10.0)
    _decide(engine, writer, ev.AgentLoggedIn(agent=AgentId("75-a0")), 1.0)
    _decide(engine, writer, ev.CallArrived(call=CallId("p/1"), dept=DeptId("75")), 2.0)
    batch = writer.take()
    doc = batch.calls["p/1"]
    assert doc is not None
    assert doc["state"] == "offered"
    assert doc["agent"] == "75-a0"
    assert batch.agents["75-a0"]["state"] == "offered"
    assert batch.loads["75"]["waiting"] == 0
    assert batch.loads["75"]["at"] == 10.0
    assert [n["state"] for n in batch.notices if n["kind"] == "call"] == ["waiting", "offered"]
    assert not writer.take()


def test_an_ended_call_is_removed_from_the_hot_state() -> None:
    """A call that hung up is written as a removal, not as a document."""
    engine = Engine(simple_spec(agents_per_dept=0))
    writer = HotStateWriter(engine=engine, store=FakeHotState(), clock=lambda: 10.0)
    _decide(engine, writer, ev.CallArrived(call=CallId("p/1"), dept=DeptId("75")), 2.0)
    _decide(engine, writer, ev.CallHungUp(call=CallId("p/1")), 3.0)
    assert writer.take().calls == {"p/1": None}


@pytest.mark.asyncio
async def test_a_store_that_is_down_delays_writes_and_loses_nothing() -> None:
    """While the store is down the marks wait; once it is back every change is written."""
    engine = Engine(simple_spec(agents_per_dept=0))
    store = FakeHotState()
    store.down = True
    writer = HotStateWriter(engine=engine, store=store, clock=lambda: 10.0, retry_max_s=0.05)
    task = asyncio.create_task(writer.run())
    for i in range(5):
        _decide(engine, writer, ev.CallArrived(call=CallId(f"p/{i}"), dept=DeptId("75")), 2.0)
    await asyncio.sleep(0.3)
    assert writer.stats.failures >= 1
    assert store.batches == []
    store.down = False
    for _ in range(100):
        await asyncio.sleep(0.02)
        if len(store.calls) == 5:
            break
    task.cancel()
    assert sorted(store.calls) == [f"p/{i}" for i in range(5)]
    notices = [n for b in store.batches for n in b.notices]
    assert [n["call"] for n in notices] == [f"p/{i}" for i in range(5)]


@pytest.mark.asyncio
async def test_a_refused_epoch_stops_the_writer() -> None:
    """When a newer leader wrote, the writer stops and says it is fenced."""
    engine = Engine(simple_spec(agents_per_dept=0))
    store = FakeHotState()
    store.epoch = 5
    writer = HotStateWriter(engine=engine, store=store, clock=lambda: 10.0, epoch=lambda: 4)
    _decide(engine, writer, ev.CallArrived(call=CallId("p/1"), dept=DeptId("75")), 2.0)
    await asyncio.wait_for(writer.run(), 2.0)
    assert writer.stats.fenced
    assert store.batches == []


@pytest.mark.asyncio
async def test_partner_loads_are_handed_to_the_engine_once_each() -> None:
    """A partner's published load becomes one event; the same load read again is not repeated."""
    store = FakeHotState()
    store.published["samu-60"] = {
        "waiting": 2,
        "available_agents": 3,
        "estimated_wait_s": 12.0,
        "at": 100.0,
    }
    store.published["samu-45"] = {"waiting": "many"}
    got: list[ev.Event] = []
    reader = PartnerLoadReader(
        store=store, partners=lambda: ["samu-60", "samu-45", "samu-80"], submit=got.append
    )
    assert await reader.poll_once() == 1
    assert await reader.poll_once() == 0
    assert got == [
        ev.PartnerLoadReported(
            partner="samu-60", waiting=2, available_agents=3, estimated_wait_s=12.0, at=100.0
        )
    ]


def test_an_unreadable_load_is_ignored() -> None:
    """A load document with a missing or bad field gives no event."""
    assert partner_event("x", {"waiting": 1}) is None
    assert partner_event("x", {"waiting": "a", "available_agents": 1, "at": 1}) is None
