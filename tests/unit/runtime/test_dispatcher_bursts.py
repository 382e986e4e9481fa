"""A burst in the dispatcher's inbox is taken back to back, yet the loop still gets turns."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from acd.core import events as ev
from acd.core.commands import OfferCall
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId, DeptId
from acd.core.testing import simple_spec
from acd.runtime.dispatcher import RUN_BATCH, Dispatcher
from tests.unit.runtime.test_dispatcher import MemoryPbx

BURST = 100


async def _turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def _stopped(d: Dispatcher, task: asyncio.Task[None]) -> None:
    await d.stop(grace_s=1)
    await asyncio.wait_for(task, 2)


@pytest.mark.asyncio
async def test_a_burst_of_callers_is_handled_in_a_few_turns_of_the_loop() -> None:
    """100 queued arrivals need about 100 / RUN_BATCH turns, not three turns each."""
    pbx = MemoryPbx()
    d = Dispatcher(engine=Engine(simple_spec(agents_per_dept=BURST)), pbxs={"pbx1": pbx})
    for i in range(BURST):
        d.submit(ev.AgentLoggedIn(agent=AgentId(f"75-a{i}")))
    for i in range(BURST):
        d.submit(ev.CallArrived(call=CallId(f"pbx1/{i}"), dept=DeptId("75")))
    task = asyncio.create_task(d.run())
    try:
        await _turns(2 * BURST // RUN_BATCH + 4)
        assert d.stats.events == 2 * BURST
        assert len(pbx.executed) == BURST  # every offer's actions already under way
        assert all(isinstance(c, OfferCall) for c in pbx.executed)
    finally:
        await _stopped(d, task)


@pytest.mark.asyncio
async def test_a_burst_lets_other_tasks_run_between_its_batches() -> None:
    """The reader and the action writers get a turn every RUN_BATCH events of a burst."""
    d = Dispatcher(engine=Engine(simple_spec()), pbxs={"pbx1": MemoryPbx()})
    for i in range(4 * RUN_BATCH):
        d.submit(ev.CallArrived(call=CallId(f"pbx1/{i}"), dept=DeptId("75")))
    seen: list[int] = []

    async def neighbour() -> None:
        while d.stats.events < 4 * RUN_BATCH:
            seen.append(d.stats.events)
            await asyncio.sleep(0)

    task = asyncio.create_task(d.run())
    try:
        await asyncio.wait_for(neighbour(), 2)
        assert len(set(seen)) >= 3  # it ran between batches, not only before and after
        assert max(b - a for a, b in itertools.pairwise(seen)) <= RUN_BATCH
    finally:
        await _stopped(d, task)
