"""End to end over loopback: ACDWaiting received → Redirect sent, at 200 arrivals/s.

The fake Asterisk runs in its own process (the middleware keeps one core to itself, as it
would next to a real Asterisk): 20 SAMU × 10 calls/s, 2,000 ARM phones that answer, short
talks so that most callers find a free ARM at once. The service side is the real one:
AMI client, translator, dispatcher, engine, Setvar + Redirect.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from acd.ami.actions import Action
from acd.ami.frames import Frame
from acd.bootstrap import connect_pbx
from acd.core import events as ev
from acd.core.engine import Engine
from acd.core.ids import AgentId
from acd.core.testing import simple_spec
from acd.runtime.dispatcher import Dispatcher
from acd.runtime.heap import settle_heap

DEPTS = [f"{n:02d}" for n in range(1, 21)]
RATE = 10.0  # calls per second per SAMU: 200/s in all
AGENTS = 100  # per SAMU: 2,000
WARMUP_S = 4.0
MEASURE_S = 15.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _run(port: int, *, settle: bool) -> dict[str, Any]:
    engine = Engine(simple_spec(depts=tuple(DEPTS), agents_per_dept=AGENTS))
    dispatcher = Dispatcher(engine=engine, pbxs={})
    pbx = connect_pbx(
        name="pbx1",
        host="127.0.0.1",
        port=port,
        username="acd15",
        secret="change-me",
        action_id_prefix="acd-bench",
        dispatcher=dispatcher,
    )
    dispatcher.pbxs = {"pbx1": pbx}
    received: dict[str, float] = {}
    sent: dict[str, float] = {}
    measuring = False
    frame_handler = pbx.on_frame
    send = pbx.client.send

    def on_frame(frame: Frame) -> None:
        if measuring and frame.kind == "UserEvent" and frame.get("UserEvent") == "ACDWaiting":
            received[frame.get("Uniqueid", "")] = time.perf_counter()
        frame_handler(frame)

    async def timed_send(action: Action, *, timeout: float | None = None) -> Any:
        if action.name == "Redirect":
            channel = dict(action.fields).get("Channel", "")
            sent.setdefault(channel, time.perf_counter())
        return await send(action, timeout=timeout)

    pbx.on_frame = on_frame  # type: ignore[method-assign]
    pbx.client.send = timed_send  # type: ignore[method-assign]
    tasks = [asyncio.create_task(dispatcher.run())]
    for attempt in range(50):
        with contextlib.suppress(OSError):
            await pbx.client.start()
            break
        await asyncio.sleep(0.1 * attempt)
    await pbx.client.wait_logged_in(10)
    tasks.append(asyncio.create_task(dispatcher.heartbeat()))
    for d in DEPTS:
        for i in range(AGENTS):
            dispatcher.submit(ev.AgentLoggedIn(agent=AgentId(f"{d}-a{i}")))
    await asyncio.sleep(WARMUP_S)
    if settle:
        settle_heap()
    events_before = pbx.client.stats().events_received
    measuring = True
    started = time.perf_counter()
    await asyncio.sleep(MEASURE_S)
    measuring = False
    elapsed = time.perf_counter() - started
    events = pbx.client.stats().events_received - events_before
    await dispatcher.stop(grace_s=2)
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    await pbx.client.close()
    latencies = sorted(
        (sent[uid] - at) * 1000 for uid, at in received.items() if uid in sent and sent[uid] >= at
    )
    return {
        "arrivals": len(received),
        "offered_at_once": len(latencies),
        "latencies_ms": latencies,
        "events_per_s": events / elapsed,
        "arrivals_per_s": len(received) / elapsed,
    }


def _report(label: str, figures: dict[str, Any]) -> None:
    lat = figures["latencies_ms"]
    print(
        f"{label}: {figures['arrivals']} arrivals ({figures['arrivals_per_s']:.0f}/s), "
        f"{figures['offered_at_once']} offered at once, "
        f"AMI {figures['events_per_s']:,.0f} events/s"
    )
    if lat:
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        verdict = "met" if p99 <= 10 else "NOT met"
        print(
            f"  ACDWaiting received → Redirect sent: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
            f"max {lat[-1]:.2f} ms (goal p99 ≤ 10 ms: {verdict})"
        )


def _once(*, settle: bool) -> dict[str, Any]:
    port = _free_port()
    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connectors.asterisk.fake",
            "--port",
            str(port),
            "--depts",
            ",".join(DEPTS),
            "--rate",
            str(RATE),
            "--agents",
            "0",
            "--answer-unknown",
            "--talk",
            "4",
            "--patience",
            "600",
            "--no-answer",
            "0",
            "--stats-every",
            "0",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        return asyncio.run(_run(port, settle=settle))
    finally:
        fake.terminate()
        fake.wait(timeout=10)


def main() -> None:
    """Start the fake in a process, run the service here, print the latency figures."""
    print(
        f"loopback, fake Asterisk in its own process; {len(DEPTS)} SAMU, "
        f"{len(DEPTS) * AGENTS} ARM, {RATE * len(DEPTS):.0f} arrivals/s offered, "
        f"{MEASURE_S:.0f} s measured"
    )
    _report("as the service runs (start-up heap frozen)", _once(settle=True))
    _report("baseline, same run: heap not frozen", _once(settle=False))


if __name__ == "__main__":
    main()
