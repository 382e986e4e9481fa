"""Hot-state write cost per decision: RedisHotState on the real Redis against the memory twin.

One decision's batch is what the runtime writes after it: one call, one agent, the
department's load and one console notice, awaited before the next (as the dispatcher
does). The memory adapter, in the same process and run, is the baseline: the difference is
the round trip and Redis's own work. Also timed: a takeover's ``load()`` of a busy platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time

from redis.asyncio import Redis

from acd.hotstate import HotBatch
from connectors.memory.hotstate import MemoryHotState
from connectors.redis import keys as k
from connectors.redis.connect import redis_client
from connectors.redis.hotstate import RedisHotState, encode

REDIS_URL = os.environ.get("ACD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
DEPT = f"bench-{os.getpid()}"
"""The load's id: loads are shared between platforms, so never a real department's."""
WARMUP = 500
WRITES = 4_000
ROUNDS = 3
LIVE_CALLS = 1_000
"""Distinct call ids the batches cycle through, as decisions touch different calls."""
SNAPSHOT_CALLS = 2_000
SNAPSHOT_AGENTS = 2_000
Adapter = MemoryHotState | RedisHotState


def decision_batch(n: int) -> HotBatch:
    """What one decision changes: a call offered to an agent, the load, a notice."""
    call = f"pbx1/1700000000.{n % LIVE_CALLS}"
    agent = f"75-arm{n % 100}"
    at = 1_700_000_000.0 + n / 10
    return HotBatch(
        calls={
            call: {
                "call": call,
                "dept": "75",
                "queue": "75-adulte",
                "state": "offered",
                "previous": "waiting",
                "at": at,
                "agent": agent,
                "priority": "normal",
                "enqueued_at": at - 42.5,
                "caller": "0612345678",
                "reason": {"code": "longest-idle", "detail": "free for 31.2 s"},
            }
        },
        agents={
            agent: {
                "agent": agent,
                "state": "ringing",
                "previous": "idle",
                "at": at,
                "pause_reason": None,
                "queues": ["75-adulte", "75-pediatrie"],
                "calls_today": 37,
            }
        },
        loads={
            DEPT: {
                "waiting": 6,
                "oldest_s": 48.0,
                "estimated_wait_s": 35.5,
                "free": 0,
                "logged_in": 24,
                "service_level_60s": 0.97,
                "at": at,
            }
        },
        notices=[{"kind": "call-offered", "call": call, "agent": agent, "at": at}],
    )


async def timed_writes(hot: Adapter, count: int, *, start: int) -> list[float]:
    """Microseconds per awaited write, one decision's batch each."""
    samples: list[float] = []
    for n in range(start, start + count):
        batch = decision_batch(n)
        began = time.perf_counter_ns()
        await hot.write(batch, epoch=1)
        samples.append((time.perf_counter_ns() - began) / 1000)
    return samples


def row(label: str, samples: list[float], unit: str = "writes/s") -> str:
    cuts = statistics.quantiles(samples, n=100)
    rate = len(samples) / (sum(samples) / 1e6)
    return f"{label:44s} p50 {cuts[49]:7.1f} µs  p99 {cuts[98]:7.1f} µs  {rate:9,.0f} {unit}"


async def timed_pings(client: Redis, count: int) -> list[float]:
    """Microseconds per awaited PING: the bare round trip, for scale."""
    samples: list[float] = []
    for _ in range(count):
        began = time.perf_counter_ns()
        await client.ping()
        samples.append((time.perf_counter_ns() - began) / 1000)
    return samples


async def drain(hot: RedisHotState, ready: asyncio.Event) -> None:
    """A console reading every notice, in the same process (it shares the loop's CPU)."""
    stream = hot.notices()
    await stream.ready()
    ready.set()
    async for _ in stream:
        pass


async def snapshot_ms(hot: Adapter) -> float:
    """A takeover's ``load()`` of SNAPSHOT_CALLS calls and SNAPSHOT_AGENTS agents, in ms."""
    batch = HotBatch()
    for n in range(max(SNAPSHOT_CALLS, SNAPSHOT_AGENTS)):
        one = decision_batch(n)
        if n < SNAPSHOT_CALLS:
            batch.calls[f"snap-{n}"] = next(iter(one.calls.values()))
        if n < SNAPSHOT_AGENTS:
            batch.agents[f"snap-arm{n}"] = next(iter(one.agents.values()))
    await hot.write(batch, epoch=1)
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter_ns()
        snap = await hot.load()
        best = min(best, (time.perf_counter_ns() - began) / 1e6)
    assert len(snap.calls) >= SNAPSHOT_CALLS
    return best


async def run() -> None:
    namespace = DEPT
    memory = MemoryHotState(namespace=namespace)
    client = redis_client(url=REDIS_URL)
    try:
        await client.ping()
    except Exception as err:
        print(f"Redis not reachable at {REDIS_URL} ({err}): only the memory baseline runs")
        await client.aclose()
        print(row("MemoryHotState (in process)", await timed_writes(memory, WRITES, start=0)))
        return
    redis = RedisHotState(client, namespace=namespace)
    info = await client.info("server")
    print(
        f"Redis {info['redis_version']} at {REDIS_URL}; batch = 1 call, 1 agent, 1 load, 1 notice"
    )
    size = sum(len(v) for v in _encoded(decision_batch(0)))
    print(f"documents per batch: {size} bytes of JSON; {WRITES:,} awaited writes per round")
    try:
        await timed_writes(memory, WARMUP, start=0)
        await timed_writes(redis, WARMUP, start=0)
        best: dict[str, list[float]] = {}
        for _ in range(ROUNDS):  # interleaved: both face the same drift of a shared machine
            for label, hot in (("MemoryHotState (in process)", memory), ("RedisHotState", redis)):
                samples = await timed_writes(hot, WRITES, start=WARMUP)
                if label not in best or statistics.median(samples) < statistics.median(best[label]):
                    best[label] = samples
        best["PING round trip (same client, for scale)"] = await timed_pings(client, WRITES)
        ready = asyncio.Event()
        console = asyncio.create_task(drain(redis, ready))
        await ready.wait()
        best["RedisHotState, a console subscribed"] = await timed_writes(redis, WRITES, start=0)
        for label, samples in best.items():
            print(row(label, samples, "round trips/s" if label.startswith("PING") else "writes/s"))
        extra = statistics.median(best["RedisHotState"]) - statistics.median(
            best["MemoryHotState (in process)"]
        )
        print(f"Redis adds {extra:.1f} µs per decision (p50) over the in-process baseline")
        memory_ms, redis_ms = await snapshot_ms(memory), await snapshot_ms(redis)
        print(
            f"takeover load() of {SNAPSHOT_CALLS:,} calls + {SNAPSHOT_AGENTS:,} agents:"
            f" memory {memory_ms:.1f} ms, Redis {redis_ms:.1f} ms"
        )
        await redis.close()
        with contextlib.suppress(asyncio.CancelledError):
            await console
    finally:
        stale = [key async for key in client.scan_iter(match=redis.keys.pattern())]
        await client.delete(*stale, k.load_key(DEPT))
        await client.aclose()


def _encoded(batch: HotBatch) -> list[str]:
    docs = [*batch.calls.values(), *batch.agents.values(), *batch.loads.values(), *batch.notices]
    return [encode(d) for d in docs if d is not None]


def main() -> None:
    """Print p50/p99 and writes/s per adapter (goal: Redis p99 under 1 ms on loopback)."""
    asyncio.run(run())


if __name__ == "__main__":
    main()
