"""End to end over loopback: ACDWaiting received → Redirect sent, at 200 arrivals/s.

The fake Asterisk runs in its own process (the middleware keeps one core to itself, as it
would next to a real Asterisk): 20 SAMU × 10 calls/s, 2,000 ARM phones that answer, short
talks so that most callers find a free ARM at once. The service side is the real one:
AMI client, translator, dispatcher, engine, Setvar + Redirect in one write.

Measured per caller offered at once: from the ``ACDWaiting`` frame handed over by the
client to the ``Redirect`` written (the goal's measure), and the same from the moment
the reader took the frame off the socket; with every collector pause of the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
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
from bench.e2e_storage import BenchStorage, close_storage, open_storage
from connectors.asterisk.pbx import AmiPbx

DEPTS = [f"{n:02d}" for n in range(1, 21)]
RATE = 10.0  # calls per second per SAMU: 200/s in all
AGENTS = 100  # per SAMU: 2,000
WARMUP_S = 4.0
CATCH_UP_S = 1.0
MEASURE_S = 15.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Probe:
    """Timestamps per caller: frame read off the socket, handed over, Redirect written.

    Hooked where the product code hands frames and actions on (the client's reader
    callback, the PBX adapter's frame handler, the client's batch send), so nothing of
    the path between them is left out or changed.
    """

    def __init__(self, pbx: AmiPbx) -> None:
        self.measuring = False
        self.pauses: list[tuple[float, int]] = []  # collector pauses (ms, generation)
        self._pause_started = 0.0
        self.read: dict[str, float] = {}
        self.received: dict[str, float] = {}
        self.sent: dict[str, float] = {}
        self._reader_hook = pbx.client._on_event
        self._frame_handler = pbx.on_frame
        self._send_all = pbx.client.send_all
        pbx.client._on_event = self._on_event  # type: ignore[method-assign]
        pbx.on_frame = self._on_frame  # type: ignore[method-assign]
        pbx.client.send_all = self._timed_send_all  # type: ignore[method-assign]

    def on_collect(self, phase: str, info: dict[str, int]) -> None:
        """``gc.callbacks`` hook: how long each collection held the process."""
        if phase == "start":
            self._pause_started = time.perf_counter()
        elif self.measuring:
            pause_ms = (time.perf_counter() - self._pause_started) * 1000
            self.pauses.append((pause_ms, info["generation"]))

    def _waiting(self, frame: Frame) -> str | None:
        if self.measuring and frame.kind == "UserEvent" and frame.get("UserEvent") == "ACDWaiting":
            return frame.get("Uniqueid", "")
        return None

    def _on_event(self, frame: Frame) -> None:  # the reader, as the frame comes off the socket
        if (uid := self._waiting(frame)) is not None:
            self.read[uid] = time.perf_counter()
        self._reader_hook(frame)

    def _on_frame(self, frame: Frame) -> None:  # the consumer, as the client hands it over
        if (uid := self._waiting(frame)) is not None:
            self.received[uid] = time.perf_counter()
        self._frame_handler(frame)

    async def _timed_send_all(
        self, batch: Sequence[Action], *, timeout: float | None = None
    ) -> Any:
        for action in batch:  # the whole batch is written before the first await
            if action.name == "Redirect":
                channel = dict(action.fields).get("Channel", "")
                self.sent.setdefault(channel, time.perf_counter())
        return await self._send_all(batch, timeout=timeout)

    def figures(self) -> dict[str, Any]:
        """Latencies of the callers offered at once (ms, sorted), from hand-over and read."""
        sent, received = self.sent, self.received
        at_once = [uid for uid, at in received.items() if uid in sent and sent[uid] >= at]
        return {
            "pauses": sorted(self.pauses),
            "arrivals": len(received),
            "offered_at_once": len(at_once),
            "latencies_ms": sorted((sent[u] - received[u]) * 1000 for u in at_once),
            "from_read_ms": sorted(
                (sent[u] - self.read[u]) * 1000 for u in at_once if u in self.read
            ),
        }


async def _run(port: int, *, settle: bool, storage: bool = False) -> dict[str, Any]:
    engine = Engine(simple_spec(depts=tuple(DEPTS), agents_per_dept=AGENTS))
    with tempfile.TemporaryDirectory() as spool_dir:
        stored = await open_storage(engine, spool_dir) if storage else None
        try:
            return await _measure(engine, port, settle=settle, stored=stored)
        finally:
            if stored is not None:
                rows, batches = await close_storage(stored)
                print(f"  storage on: {rows:,} call entries in PostgreSQL, {batches:,} hot batches")


async def _measure(
    engine: Engine, port: int, *, settle: bool, stored: BenchStorage | None
) -> dict[str, Any]:
    dispatcher = Dispatcher(
        engine=engine,
        pbxs={},
        journal=None if stored is None else stored.storage,
        listeners=() if stored is None else (stored.writer.on_decision,),
    )
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
    probe = _Probe(pbx)
    gc.callbacks.append(probe.on_collect)
    tasks = [asyncio.create_task(dispatcher.run())]
    if stored is not None:
        tasks.append(asyncio.create_task(stored.writer.run()))
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
    # The freeze's own collection stops the process for about 50 ms: the backlog it
    # leaves is start-up work, not the steady state measured here (both runs wait).
    await asyncio.sleep(CATCH_UP_S)
    events_before = pbx.client.stats().events_received
    probe.measuring = True
    started = time.perf_counter()
    await asyncio.sleep(MEASURE_S)
    probe.measuring = False
    elapsed = time.perf_counter() - started
    events = pbx.client.stats().events_received - events_before
    await dispatcher.stop(grace_s=2)
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    await pbx.client.close()
    gc.callbacks.remove(probe.on_collect)
    figures = probe.figures()
    figures["events_per_s"] = events / elapsed
    figures["arrivals_per_s"] = figures["arrivals"] / elapsed
    return figures


def _report(label: str, figures: dict[str, Any]) -> None:
    print(
        f"{label}: {figures['arrivals']} arrivals ({figures['arrivals_per_s']:.0f}/s), "
        f"{figures['offered_at_once']} offered at once, "
        f"AMI {figures['events_per_s']:,.0f} events/s"
    )
    if pauses := figures["pauses"]:
        longest, generation = pauses[-1]
        print(
            f"  collector: {len(pauses)} pauses, {sum(p for p, _ in pauses):.0f} ms in all, "
            f"longest {longest:.2f} ms (generation {generation})"
        )
    for what, lat in (
        ("ACDWaiting received → Redirect sent", figures["latencies_ms"]),
        ("  same, from the socket read", figures["from_read_ms"]),
    ):
        if lat:
            p50 = statistics.median(lat)
            p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
            verdict = "met" if p99 <= 10 else "NOT met"
            print(
                f"  {what}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
                f"max {lat[-1]:.2f} ms (goal p99 ≤ 10 ms: {verdict})"
            )


def start_fake(port: int, depts: Sequence[str], rate: float) -> subprocess.Popen[bytes]:
    """The fake Asterisk in its own process: ``rate`` callers/s per SAMU, phones that answer."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connectors.asterisk.fake",
            "--port",
            str(port),
            "--depts",
            ",".join(depts),
            "--rate",
            str(rate),
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


def _once(*, settle: bool, storage: bool = False) -> dict[str, Any]:
    port = _free_port()
    fake = start_fake(port, DEPTS, RATE)
    try:
        return asyncio.run(_run(port, settle=settle, storage=storage))
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
    _report(
        "with the Redis hot state and the PostgreSQL journal (outbox through Redis)",
        _once(settle=True, storage=True),
    )


if __name__ == "__main__":
    main()
