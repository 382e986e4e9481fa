"""Ten minutes of "15" traffic compressed: every caller ends once, nobody is redirected twice."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import pytest

from acd.core import events as ev
from acd.core.commands import CallRecord, Command
from acd.core.ids import AgentId, CallId
from acd.core.states import TERMINAL_CALL_STATES, CallState
from connectors.asterisk.fake import Dist, FakeAsterisk, FakeConfig, TrafficSpec
from tests.e2e.test_routing_over_ami import running, until

MODEL_S = 600.0  # ten minutes of traffic
SCALE = 1 / 20  # ... played in thirty seconds (fake and middleware share one process)
RATE = 1.7  # calls per model second per department: about 2,000 calls in all
AGENTS = 40


@pytest.mark.slow
@pytest.mark.asyncio
async def test_ten_compressed_minutes_end_every_call_once_and_never_redirect_twice() -> None:
    """About 2,000 callers in two SAMU: one terminal state each, no replayed redirect."""
    config = FakeConfig(
        scale=SCALE,
        auth_fail_delay_s=0.05,
        ring_delay=Dist.uniform(1.0, 4.0),
        no_answer_p=0.03,
        hangup_linger_s=0.005,
        seed=15,
    )
    fake = await FakeAsterisk(config).start()
    terminal: dict[CallId, list[CallState]] = defaultdict(list)
    arrived: set[CallId] = set()

    def collect(event: ev.Event, commands: list[Command]) -> None:
        if isinstance(event, ev.CallArrived):
            arrived.add(event.call)
        for c in commands:
            if isinstance(c, CallRecord) and c.state in TERMINAL_CALL_STATES:
                terminal[c.call].append(c.state)

    try:
        fake.register_agents(f"PJSIP/{d}-a{i}" for d in ("75", "92") for i in range(AGENTS))
        async with running(fake, depts=("75", "92"), agents_per_dept=AGENTS) as acd:
            acd.dispatcher.listeners = (collect,)
            acd.login(*(f"{d}-a{i}" for d in ("75", "92") for i in range(AGENTS)))
            await until(
                lambda: (
                    acd.engine.agent(AgentId("92-a39")).state is not None
                    and acd.dispatcher.stats.events >= 2 * AGENTS
                )
            )
            fake.start_traffic(
                TrafficSpec(
                    rates={"75": RATE, "92": RATE},
                    patience=Dist.exponential(90.0),
                    talk=Dist.lognormal(25.0),
                    seed=15,
                )
            )
            await asyncio.sleep(MODEL_S * SCALE)
            fake.stop_traffic()
            await until(lambda: fake.stats().active_channels == 0, timeout_s=30)
            await until(lambda: not acd.engine.live_calls(), timeout_s=10)
            stats = fake.stats()
            callers = stats.callers
            assert callers >= 1_500, callers  # ~2,040 expected; fewer if the loop lags
            # Callers who hang up during the welcome message never reach the waiting loop.
            early = callers - len(arrived)
            assert 0 <= early < callers // 50
            assert set(terminal) == arrived
            assert all(len(states) == 1 for states in terminal.values())
            assert stats.repeated_routes() == {}
            assert stats.interrupted_routes == 0
            assert stats.fates.get("lost", 0) == 0
            answered = sum(1 for s in terminal.values() if s == [CallState.ENDED])
            assert answered == stats.fates.get("answered", 0)
            assert answered > callers // 2
            print(
                f"\n{callers} callers in {time.strftime('%M:%S', time.gmtime(MODEL_S))}"
                f" of model time: fates {dict(stats.fates)}"
            )
    finally:
        await fake.stop()
