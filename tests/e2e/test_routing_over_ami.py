"""The whole chain over real TCP: fake Asterisk ⇄ AMI client ⇄ dispatcher ⇄ engine."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio

from acd.bootstrap import connect_pbx
from acd.core import events as ev
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId
from acd.core.spec import EngineSpec
from acd.core.states import AgentState, CallState
from acd.core.testing import simple_spec
from acd.runtime.dispatcher import Dispatcher
from connectors.asterisk.fake import Dist, FakeAsterisk, FakeConfig

FAST = FakeConfig(
    scale=0.05,
    auth_fail_delay_s=0.05,
    ring_delay=Dist.fixed(1.0),
    talk=Dist.fixed(2.0),
    fallback_answer_delay=Dist.fixed(2.0),
    partner_answer_delay=Dist.fixed(1.0),
    hangup_linger_s=0.02,
    seed=7,
)


@dataclass
class Acd:
    """A running middleware wired to one fake Asterisk, as `acd run` wires it."""

    fake: FakeAsterisk
    engine: Engine
    dispatcher: Dispatcher
    tasks: list[asyncio.Task[None]]

    def call(self, uid: str) -> CallId:
        return CallId(f"pbx1/{uid}")

    def state(self, uid: str) -> CallState | None:
        return self.engine.call_state(self.call(uid))

    def login(self, *agents: str) -> None:
        for a in agents:
            self.dispatcher.submit(ev.AgentLoggedIn(agent=AgentId(a)))


async def until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait until ``check()`` holds, polling; fail with the timeout."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(
    fake: FakeAsterisk,
    *,
    heartbeat: bool = True,
    spec: EngineSpec | None = None,
    **spec_kw: object,
) -> AsyncIterator[Acd]:
    engine = Engine(spec or simple_spec(**spec_kw))  # type: ignore[arg-type]
    dispatcher = Dispatcher(engine=engine, pbxs={})
    pbx = connect_pbx(
        name="pbx1",
        host="127.0.0.1",
        port=fake.port,
        username=FAST.username,
        secret=FAST.secret,
        action_id_prefix="acd-e2e-pbx1",
        dispatcher=dispatcher,
        ping_interval_s=0.3,
        pong_timeout_s=1.0,
        backoff_min_s=0.05,
        backoff_max_s=0.2,
    )
    dispatcher.pbxs = {"pbx1": pbx}
    tasks = [asyncio.create_task(dispatcher.run())]
    await pbx.client.start()
    await pbx.client.wait_logged_in(5)
    if heartbeat:
        tasks.append(asyncio.create_task(dispatcher.heartbeat(every_s=0.2)))
    try:
        yield Acd(fake=fake, engine=engine, dispatcher=dispatcher, tasks=tasks)
    finally:
        await dispatcher.stop(grace_s=1)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await pbx.client.close()


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = await FakeAsterisk(FAST).start()
    for dept in ("75",):
        for i in range(2):
            server.set_agent(f"PJSIP/{dept}-a{i}", answers=True)
    yield server
    await server.stop()


@pytest.mark.asyncio
async def test_a_caller_is_queued_routed_answered_and_ends(fake: FakeAsterisk) -> None:
    """ACDWaiting → offer → Setvar/Redirect → ACDRouted → answered → hangup: one redirect."""
    async with running(fake) as acd:
        acd.login("75-a0")
        await until(lambda: acd.engine.agent(AgentId("75-a0")).state is AgentState.AVAILABLE)
        uid = fake.add_caller("75", caller_num="0612345678", talk_s=2.0)
        await until(lambda: acd.state(uid) is CallState.ENDED)
        stats = fake.stats()
        assert stats.redirects[uid] == 1
        assert stats.fates["answered"] == 1
        assert acd.engine.dept_stats("75", time.time()).answered == 1  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_ring_no_answer_requeues_the_caller_and_pauses_the_agent(
    fake: FakeAsterisk,
) -> None:
    """The first ARM does not answer: paused 'no-answer'; the caller goes to the next ARM."""
    fake.set_agent("PJSIP/75-a0", answers=False)
    async with running(fake) as acd:
        acd.login("75-a0", "75-a1")
        await until(lambda: acd.engine.agent(AgentId("75-a1")).state is AgentState.AVAILABLE)
        uid = fake.add_caller("75", talk_s=60.0)
        await until(lambda: acd.state(uid) is CallState.CONNECTED, timeout_s=8)
        a0 = acd.engine.agent(AgentId("75-a0"))
        assert (a0.state, a0.pause_reason) == (AgentState.PAUSED, "no-answer")
        routes = fake.stats().dispatch_routes[uid]
        assert len(routes) == 2
        assert routes[0] != routes[1]
        assert not fake.stats().repeated_routes()


@pytest.mark.asyncio
async def test_a_caller_who_gives_up_is_an_abandoned_call(fake: FakeAsterisk) -> None:
    """Nobody logged in, the caller hangs up: the engine counts an abandon."""
    async with running(fake) as acd:
        uid = fake.add_caller("75", patience_s=10.0)
        await until(lambda: acd.state(uid) is CallState.WAITING)
        await until(lambda: acd.state(uid) is CallState.ABANDONED)
        stats = acd.engine.dept_stats("75", time.time())  # type: ignore[arg-type]
        # The fake runs 20x faster than the engine's wall clock: a short abandon here.
        assert stats.abandoned + stats.short_abandoned == 1


@pytest.mark.asyncio
async def test_without_heartbeat_the_dialplan_falls_back_by_itself(fake: FakeAsterisk) -> None:
    """No heartbeat from the middleware: the caller goes to the static fallback."""
    async with running(fake, heartbeat=False) as acd:
        uid = fake.add_caller("75")
        await until(lambda: acd.state(uid) is CallState.FALLBACK)
        assert fake.stats().redirects.get(uid, 0) == 0


@pytest.mark.asyncio
async def test_link_cut_while_ringing_resyncs_and_routes_exactly_once(
    fake: FakeAsterisk,
) -> None:
    """The AMI link drops while the ARM's phone rings: resync settles it, no second redirect."""
    fake.set_agent("PJSIP/75-a0", answers=True, answer_delay_s=12.0)
    async with running(fake) as acd:
        acd.login("75-a0")
        await until(lambda: acd.engine.agent(AgentId("75-a0")).state is AgentState.AVAILABLE)
        uid = fake.add_caller("75", talk_s=40.0)
        await until(lambda: acd.state(uid) is CallState.OFFERED)
        await until(lambda: fake.stats().redirects.get(uid, 0) == 1)
        fake.drop_sessions()
        await until(lambda: acd.state(uid) is CallState.CONNECTED, timeout_s=8)
        assert fake.stats().redirects[uid] == 1
        assert acd.dispatcher.stats.resyncs >= 2  # the first login, then the reconnect


@pytest.mark.asyncio
async def test_garbage_on_the_wire_is_counted_and_the_session_survives(
    fake: FakeAsterisk,
) -> None:
    """A malformed and an oversized frame are skipped; calls are still routed after them."""
    async with running(fake) as acd:
        acd.login("75-a0")
        pbx = acd.dispatcher.pbxs["pbx1"]
        fake.inject_raw(b"this is not AMI\r\n\r\n" + b"X" * 70_000 + b"\r\n\r\n")
        await until(lambda: pbx.client.stats().bad_frames >= 1)  # type: ignore[attr-defined]
        uid = fake.add_caller("75", talk_s=60.0)
        await until(lambda: acd.state(uid) is CallState.CONNECTED)


@pytest.mark.asyncio
async def test_pbx_restart_ends_its_calls_and_routing_resumes(fake: FakeAsterisk) -> None:
    """Asterisk restarts: its waiting callers are gone from the engine; new calls route."""
    async with running(fake) as acd:
        first = fake.add_caller("75")
        await until(lambda: acd.state(first) is CallState.WAITING)
        await fake.restart(downtime_s=0.2)
        await until(lambda: acd.state(first) is CallState.ABANDONED, timeout_s=8)
        fake.set_agent("PJSIP/75-a0", answers=True)  # phones register again after a restart
        acd.login("75-a0")
        second = fake.add_caller("75", talk_s=60.0)
        await until(lambda: acd.state(second) is CallState.CONNECTED, timeout_s=8)


def test_fake_config_is_fast() -> None:
    """The e2e fake runs 20× faster than real time (keeps the suite short)."""
    assert dataclasses.replace(FAST).scale == 0.05
