"""A middleware killed with -9 comes back from the hot state in Redis alone, every call in place."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from acd.bootstrap import PbxTarget, build_service, run_service
from acd.core.states import AgentState, CallState
from connectors.asterisk.fake import Dist, FakeAsterisk, FakeConfig
from tests.services import redis_url, unique_name

ROOT = Path(__file__).parents[2]
SECRET = "change-me"


def _config(tmp_path: Path, *, namespace: str, port: int, redis: str) -> Path:
    """The minimal platform, its overflow rules left out, state in Redis, journal in SQLite."""
    text = (ROOT / "tests" / "data" / "configs" / "minimal.yaml").read_text(encoding="utf-8")
    text = text.split("\noverflow:")[0]
    text = text.replace("name: test-15", f"name: {namespace}")
    text = text.replace("host: 127.0.0.1", f"host: 127.0.0.1\n    port: {port}")
    text = text.replace("username: acd\n", "username: acd15\n")
    text = text.replace("url: memory://", f"url: {redis}")
    text = text.replace(
        "url: sqlite:///var/acd-test-journal.db",
        f"url: sqlite:///{tmp_path}/journal.db\n  spool: {tmp_path}/journal.spool",
    )
    path = tmp_path / "acd.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout_s} s")
        await asyncio.sleep(0.05)


async def _drop_namespace(url: str, namespace: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"acd:{namespace}:*")]
        keys += [f"acd:load:{d}" for d in ("75", "92")]
        await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_killed_middleware_restarts_from_redis_with_every_call_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 with callers talking and waiting: a new instance, PBX unreachable, has them all."""
    url = redis_url(db=0)
    namespace = unique_name("rst").replace("_", "-")
    fake_cfg = FakeConfig(ring_delay=Dist.fixed(0.2), talk=Dist.fixed(600.0), seed=3)
    fake = await FakeAsterisk(fake_cfg).start()
    config = _config(tmp_path, namespace=namespace, port=fake.port, redis=url)
    env = {**os.environ, "ACD_TEST_AMI_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "acd.cli", "run", "-c", str(config), "--login-all"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=env,
    )
    try:
        fake.register_agents(["PJSIP/arm-7501", "PJSIP/arm-7502", "PJSIP/arm-9201"])
        await _until(lambda: fake.session_count > 0, 20, "the middleware's AMI login")
        await asyncio.sleep(1.0)  # agents logged in
        callers = [fake.add_caller("75", caller_num=f"06000000{i:02}") for i in range(4)]
        callers += [fake.add_caller("92", caller_num=f"06000001{i:02}") for i in range(2)]
        await _until(lambda: fake.stats().answered == 3, 20, "three callers answered")
        await asyncio.sleep(1.0)  # nothing moves now: three talk for 10 min, three wait
        talking = {u for u in callers if fake.caller(u) and fake.caller(u).channel.bridge}  # type: ignore[union-attr]
        waiting = set(callers) - talking
        assert len(talking) == 3
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        fake.stop_traffic()
        await fake.stop()

    monkeypatch.setenv("ACD_TEST_AMI_SECRET", SECRET)
    unreachable = PbxTarget(host="127.0.0.1", port=_closed_port(), username="x", secret="y")
    service = build_service(str(config), targets={"pbx1": unreachable})
    stop = asyncio.Event()
    task = asyncio.create_task(run_service(service, stop=stop))
    try:
        await _until(lambda: len(service.engine.live_calls()) == 6, 10, "six calls restored")
        live = {c.id.split("/", 1)[1]: c for c in service.engine.live_calls()}
        assert {u for u, c in live.items() if c.state is CallState.CONNECTED} == talking
        assert {u for u, c in live.items() if c.state is CallState.WAITING} == waiting
        on_call = {live[u].agent for u in talking}
        assert on_call == {"arm-7501", "arm-7502", "arm-9201"}
        for agent in on_call:
            assert agent is not None
            assert service.engine.agent(agent).state is AgentState.ON_CALL
        waiting_75 = [
            c.caller for c in service.engine.waiting_calls(live[next(iter(waiting))].queue)
        ]
        assert waiting_75 == sorted(waiting_75)  # arrival order kept
        assert all(live[u].caller for u in callers)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await _drop_namespace(url, namespace)
