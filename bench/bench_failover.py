"""Failover time: kill -9 of the active `acd run`, to the first Redirect sent by the new leader.

Two `acd run` processes with the same configuration (TTL 2 s, renew every 0.3 s), the
shared Redis and a fresh journal database on the local PostgreSQL, restarted like systemd
does (``Restart=on-failure``), in front of the fake Asterisk running in this process with
a steady stream of callers (20 ARM, short talks, a caller every 0.1 s). Each round waits
until the killed instance is back as a standby, waits a random moment, finds the leader
from the lease row, kills it with SIGKILL and times, on the fake's own log of received
actions (the ActionIDs carry the epoch), the first action and the first Redirect of the
next epoch. The rig is the chaos suite's (``tests/integration/chaos``). PostgreSQL and
Redis come from ``ACD_BENCH_PG_URL`` and ``ACD_BENCH_REDIS_URL``; ``ACD_BENCH_FAILOVER_RUNS``
sets the number of rounds (7), ``ACD_BENCH_FAILOVER_TTL`` and ``..._RENEW`` the lease timing.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.integration.chaos.cluster import (
    DEPT,
    Timing,
    beating,
    fates,
    first_action_of,
    heartbeat_gap,
    redirected_twice,
    unfinished,
    until,
)
from tests.integration.chaos.rig import Rig, fresh_database, rig

PG_URL = os.environ.get("ACD_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ACD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
RUNS = int(os.environ.get("ACD_BENCH_FAILOVER_RUNS", "7"))
TIMING = Timing(
    ttl_s=float(os.environ.get("ACD_BENCH_FAILOVER_TTL", "2.0")),
    renew_every_s=float(os.environ.get("ACD_BENCH_FAILOVER_RENEW", "0.3")),
    margin_s=0.5,
)
AGENTS = 20
ARRIVAL_EVERY_S = 0.1
GOAL_S = TIMING.ttl_s + 0.5


@dataclass(frozen=True, slots=True)
class Failover:
    """One round: seconds from the kill to the new epoch's first action and first Redirect."""

    first_action_s: float
    first_redirect_s: float
    action: str


async def _traffic(r: Rig, callers: list[str]) -> None:
    """A caller every ``ARRIVAL_EVERY_S``, patient enough to outwait any failover."""
    while True:
        callers.append(r.fake.add_caller(DEPT, caller_num=f"06{len(callers):08d}", patience_s=600))
        await asyncio.sleep(ARRIVAL_EVERY_S)


async def _round(r: Rig) -> Failover:
    """Kill the leader once both instances are up; time the next epoch's first actions."""
    loop = asyncio.get_running_loop()
    await until(
        lambda: len(r.cluster.running()) == 2 and r.fake.session_count == 2 and beating(r.fake),
        30, "two instances up, the heartbeat fresh",
    )  # fmt: skip
    await asyncio.sleep(1.0 + random.uniform(0.0, 1.0))  # the restarted one warm; any phase
    holder, epoch, _left = await r.db.current()
    r.cluster.node_of(holder).signal(signal.SIGKILL)
    killed_at = loop.time()
    redirects = frozenset({"redirect"})
    await until(
        lambda: first_action_of(r.fake, newer_than=epoch, names=redirects) is not None,
        TIMING.ttl_s + 10, "a Redirect of the next epoch",
    )  # fmt: skip
    first = first_action_of(r.fake, newer_than=epoch)
    routed = first_action_of(r.fake, newer_than=epoch, names=redirects)
    assert first is not None
    assert routed is not None
    return Failover(first.at - killed_at, routed.at - killed_at, first.name)


def _line(what: str, values: list[float]) -> str:
    return (
        f"  {what:<30} min {min(values):5.2f} s  median {statistics.median(values):5.2f} s  "
        f"max {max(values):5.2f} s"
    )


async def _bench(directory: Path) -> None:
    namespace = f"bench-failover-{uuid.uuid4().hex[:8]}"
    async with (
        fresh_database(PG_URL.replace("postgresql://", "postgresql+asyncpg://", 1)) as url,
        rig(
            directory, journal_url=url, redis_url=REDIS_URL, namespace=namespace,
            agents=AGENTS, timing=TIMING,
        ) as r,
    ):  # fmt: skip
        await r.start(supervise=True)
        callers: list[str] = []
        traffic = asyncio.create_task(_traffic(r, callers))
        rounds = []
        started = time.monotonic()
        try:
            for i in range(RUNS):
                rounds.append(await _round(r))
                last = rounds[-1]
                print(
                    f"  round {i + 1}: first action {last.first_action_s:.2f} s "
                    f"({last.action}), first Redirect {last.first_redirect_s:.2f} s",
                    flush=True,
                )
        finally:
            traffic.cancel()
        await until(lambda: not unfinished(r.fake, callers), 60, "every caller served")
        elapsed = time.monotonic() - started
    routed = [f.first_redirect_s for f in rounds]
    median = statistics.median(routed)
    print(_line("kill -9 → first action", [f.first_action_s for f in rounds]))
    print(_line("kill -9 → first Redirect", routed))
    print(
        f"  goal: median ≤ TTL + 0.5 s = {GOAL_S:.1f} s: {'met' if median <= GOAL_S else 'MISSED'}"
        f"; widest heartbeat gap {heartbeat_gap(r.fake):.2f} s (ACD_HEARTBEAT_MAX 5 s)"
    )
    print(
        f"  {len(callers)} callers over {elapsed:.0f} s: {dict(fates(r.fake, callers))}; "
        f"callers redirected twice: {len(redirected_twice(r.fake))}"
    )


def _reachable(url: str, default_port: int) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or default_port), 1):
            return True
    except OSError:
        return False


def main() -> None:
    """Print the failover times over ``RUNS`` kills."""
    print(
        f"failover: {RUNS} × kill -9 of the leader of 2 `acd run`, TTL {TIMING.ttl_s} s, renew "
        f"every {TIMING.renew_every_s} s, {AGENTS} ARM, a caller every {ARRIVAL_EVERY_S} s"
    )
    if not (_reachable(PG_URL, 5432) and _reachable(REDIS_URL, 6379)):
        print("  PostgreSQL or Redis not reachable: skipped")
        return
    with tempfile.TemporaryDirectory(prefix="acd-failover-") as directory:
        asyncio.run(_bench(Path(directory)))


if __name__ == "__main__":
    main()
