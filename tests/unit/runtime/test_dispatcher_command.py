"""A person's command (the console) applied at once: its answer, its deadlines, its listeners."""

from __future__ import annotations

import asyncio

import pytest

from acd.core import events as ev
from acd.core.commands import Command, OfferCall, VerifyRoute
from acd.core.engine import Engine
from acd.core.errors import UnknownAgent
from acd.core.ids import AgentId, CallId, DeptId
from acd.core.testing import simple_spec
from acd.runtime.dispatcher import Dispatcher, NotRouting
from tests.unit.runtime.test_dispatcher import MemoryPbx, settle


class CheckingPbx(MemoryPbx):
    """Records the offer checks it is asked as well."""

    def __init__(self) -> None:
        super().__init__()
        self.verified: list[VerifyRoute] = []

    async def verify(self, command: VerifyRoute) -> list[ev.Event]:
        self.verified.append(command)
        return []


@pytest.mark.asyncio
async def test_command_answers_with_the_engines_refusal() -> None:
    """An unknown agent is refused to the caller of the command, counted as rejected."""
    d = Dispatcher(engine=Engine(simple_spec()), pbxs={"pbx1": MemoryPbx()})
    with pytest.raises(UnknownAgent):
        d.command(ev.AgentPaused(agent=AgentId("nobody"), reason="x"))
    assert d.stats.rejected == 1


@pytest.mark.asyncio
async def test_a_standby_refuses_commands() -> None:
    """Only the routing instance takes commands: a standby says so."""
    d = Dispatcher(engine=Engine(simple_spec()), pbxs={"pbx1": MemoryPbx()})
    d.standby = True
    with pytest.raises(NotRouting):
        d.command(ev.AgentLoggedIn(agent=AgentId("75-a0")))


@pytest.mark.asyncio
async def test_a_deadline_made_by_a_command_is_kept_by_the_sleeping_loop() -> None:
    """A login by command makes an offer; its check comes on time though the loop slept."""
    pbx = CheckingPbx()
    spec = simple_spec(queue={"ring_timeout_s": 0.05}, engine={"offer_guard_s": 0.05})
    d = Dispatcher(engine=Engine(spec), pbxs={"pbx1": pbx})
    task = asyncio.create_task(d.run())
    d.submit(ev.CallArrived(call=CallId("pbx1/1"), dept=DeptId("75")))
    await settle(lambda: d.engine.call(CallId("pbx1/1")) is not None)
    await asyncio.sleep(0.05)  # the loop now waits on its inbox, with no deadline
    commands = d.command(ev.AgentLoggedIn(agent=AgentId("75-a0")))
    assert any(isinstance(c, OfferCall) for c in commands)
    await settle(lambda: pbx.verified, timeout_s=1.0)
    await d.stop()
    await task


@pytest.mark.asyncio
async def test_a_failing_listener_does_not_stop_the_decision() -> None:
    """A listener that raises is counted; the decision is still carried out."""
    pbx = MemoryPbx()

    def broken(_event: ev.Event, _commands: list[Command]) -> None:
        raise RuntimeError("listener bug")

    d = Dispatcher(engine=Engine(simple_spec()), pbxs={"pbx1": pbx}, listeners=(broken,))
    task = asyncio.create_task(d.run())
    d.submit(ev.AgentLoggedIn(agent=AgentId("75-a0")))
    d.submit(ev.CallArrived(call=CallId("pbx1/1"), dept=DeptId("75")))
    await settle(lambda: pbx.executed)
    assert isinstance(pbx.executed[0], OfferCall)
    assert d.stats.listener_errors == 2
    d.command(ev.AgentLoggedIn(agent=AgentId("75-a1")))
    assert d.stats.listener_errors == 3
    await d.stop()
    await task
