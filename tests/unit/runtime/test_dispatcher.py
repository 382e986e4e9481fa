"""The dispatcher: events in order, decisions out, and a heartbeat only while routing."""

from __future__ import annotations

import asyncio

import pytest

from acd.core import events as ev
from acd.core.commands import OfferCall, SendToFallback, VerifyRoute
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId, DeptId
from acd.core.testing import simple_spec
from acd.ports import ChannelSnapshot, PbxCommand
from acd.runtime.dispatcher import Dispatcher


class MemoryPbx:
    """An in-memory PBX: records what it is asked, beats included."""

    def __init__(self, name: str = "pbx1") -> None:
        self.name = name
        self.executed: list[PbxCommand] = []
        self.beats: list[float] = []
        self.stuck = False

    async def execute(self, command: PbxCommand) -> list[ev.Event]:
        self.executed.append(command)
        return []

    async def verify(self, command: VerifyRoute) -> list[ev.Event]:
        return []

    async def heartbeat(self, epoch_s: float) -> None:
        if self.stuck:
            await asyncio.sleep(60)
        self.beats.append(epoch_s)

    async def channels(self) -> list[ChannelSnapshot]:
        return []


async def settle(condition: object, timeout_s: float = 2.0) -> None:
    """Wait until ``condition()`` holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not condition():  # type: ignore[operator]
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.005)


@pytest.mark.asyncio
async def test_offers_reach_the_pbx_of_the_call() -> None:
    """An arrival with a free agent becomes an offer sent to the caller's own PBX."""
    pbx1, pbx2 = MemoryPbx("pbx1"), MemoryPbx("pbx2")
    d = Dispatcher(engine=Engine(simple_spec()), pbxs={"pbx1": pbx1, "pbx2": pbx2})
    task = asyncio.create_task(d.run())
    d.submit(ev.AgentLoggedIn(agent=AgentId("75-a0")))
    d.submit(ev.CallArrived(call=CallId("pbx2/9"), dept=DeptId("75")))
    await settle(lambda: pbx2.executed)
    assert isinstance(pbx2.executed[0], OfferCall)
    assert pbx1.executed == []
    await d.stop()
    await task


@pytest.mark.asyncio
async def test_a_caller_of_an_unknown_department_is_sent_to_the_fallback() -> None:
    """A department missing from the configuration never leaves a caller waiting."""
    pbx = MemoryPbx()
    d = Dispatcher(engine=Engine(simple_spec()), pbxs={"pbx1": pbx})
    task = asyncio.create_task(d.run())
    d.submit(ev.CallArrived(call=CallId("pbx1/1"), dept=DeptId("99")))
    await settle(lambda: pbx.executed)
    [cmd] = pbx.executed
    assert isinstance(cmd, SendToFallback)
    assert cmd.reason.rule == "unplaced"
    assert d.stats.unplaced == 1
    await d.stop()
    await task


@pytest.mark.asyncio
async def test_an_engine_fault_skips_the_event_and_routing_goes_on() -> None:
    """A bug raising inside the engine is logged; the next events are still handled."""
    pbx = MemoryPbx()
    engine = Engine(simple_spec())
    d = Dispatcher(engine=engine, pbxs={"pbx1": pbx})
    original = engine.handle
    calls = 0

    def flaky(event: ev.Event, now: float) -> list[object]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return original(event, now)  # type: ignore[return-value]

    engine.handle = flaky  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(d.run())
    d.submit(ev.AgentLoggedIn(agent=AgentId("75-a1")))  # hits the fault
    d.submit(ev.AgentLoggedIn(agent=AgentId("75-a0")))
    d.submit(ev.CallArrived(call=CallId("pbx1/1"), dept=DeptId("75")))
    await settle(lambda: pbx.executed)
    assert d.stats.errors == 1
    assert pbx.executed[0].agent == AgentId("75-a0")  # type: ignore[union-attr]
    await d.stop()
    await task


@pytest.mark.asyncio
async def test_heartbeat_stops_when_the_dispatcher_is_gone() -> None:
    """No routing, no heartbeat: the dialplan then fails open by itself."""
    pbx = MemoryPbx()
    d = Dispatcher(engine=Engine(simple_spec()), pbxs={"pbx1": pbx})
    run = asyncio.create_task(d.run())
    beat = asyncio.create_task(d.heartbeat(every_s=0.02))
    await settle(lambda: len(pbx.beats) >= 2)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await asyncio.sleep(0.05)
    count = len(pbx.beats)
    await asyncio.sleep(0.1)
    assert len(pbx.beats) == count
    await d.stop()
    beat.cancel()
    with pytest.raises(asyncio.CancelledError):
        await beat


@pytest.mark.asyncio
async def test_a_stuck_pbx_does_not_age_the_heartbeat_of_another() -> None:
    """Each PBX is beaten on its own with a timeout: pbx2 keeps its beat while pbx1 hangs."""
    pbx1, pbx2 = MemoryPbx("pbx1"), MemoryPbx("pbx2")
    pbx1.stuck = True
    d = Dispatcher(engine=Engine(simple_spec()), pbxs={"pbx1": pbx1, "pbx2": pbx2})
    run = asyncio.create_task(d.run())
    beat = asyncio.create_task(d.heartbeat(every_s=0.05))
    await settle(lambda: len(pbx2.beats) >= 3, timeout_s=2)
    await d.stop()
    await run
    beat.cancel()
    with pytest.raises(asyncio.CancelledError):
        await beat
