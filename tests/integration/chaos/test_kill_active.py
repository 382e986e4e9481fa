"""kill -9 of the active instance with 200+ callers waiting: a standby routes them all, once."""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path

import pytest

from tests.integration.chaos.cluster import (
    DEPT,
    Timing,
    epoch_of,
    first_action_of,
    heartbeat_gap,
    redirected_twice,
    unfinished,
    until,
    waiting_now,
)
from tests.integration.chaos.shared import shared_rig

TIMING = Timing(ttl_s=2.0, renew_every_s=0.3, margin_s=0.5)
AGENTS = 20
CALLERS = 260
LATE_CALLERS = 20
"""Callers arriving while nobody leads: the takeover's resync adopts them."""


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_standby_takes_over_a_killed_leader_and_routes_every_caller_once(
    tmp_path: Path,
) -> None:
    """kill -9 of the leader, 200+ waiting: a standby acts within TTL + 1 s, none routed twice."""
    loop = asyncio.get_running_loop()
    async with shared_rig(
        tmp_path,
        "chaos-kill",
        nodes=("a", "b", "c"),
        agents=AGENTS,
        timing=TIMING,
    ) as r:
        fake, db = r.fake, r.db
        await r.start()
        callers = [fake.add_caller(DEPT, caller_num=f"06{i:08d}", patience_s=900.0)
                   for i in range(CALLERS)]  # fmt: skip
        await until(lambda: fake.stats().answered >= AGENTS, 15, "every ARM busy")
        await asyncio.sleep(random.uniform(0.0, 1.0))  # anywhere in the routing's stream
        waiting = waiting_now(fake, callers)
        holder, old_epoch, _left = await db.current()
        leader = r.cluster.node_of(holder)
        leader.signal(signal.SIGKILL)
        killed_at = loop.time()
        for i in range(LATE_CALLERS):
            callers.append(fake.add_caller(DEPT, caller_num=f"07{i:08d}", patience_s=900.0))
            await asyncio.sleep(0.1)
        await until(lambda: not unfinished(fake, callers), 60, "every caller served")
        assert await leader.wait_exit(5) == -signal.SIGKILL
        await until(r.outbox_drained, 30, "the outbox drained")
        await until(lambda: r.recorded(callers), 20, "every caller's acd_call row")
        new_holder, new_epoch, _ = await db.current()
    stats = fake.stats()
    first = first_action_of(fake, newer_than=old_epoch)
    routed = first_action_of(fake, newer_than=old_epoch, names=frozenset({"redirect"}))
    assert first is not None
    assert routed is not None
    acted_s, routed_s = first.at - killed_at, routed.at - killed_at
    print(
        f"\nkill -9 with {waiting} callers waiting ({CALLERS} + {LATE_CALLERS} during the "
        f"failover): epoch {new_epoch} acted {acted_s:.2f} s after the kill ({first.name}), "
        f"first Redirect {routed_s:.2f} s; widest heartbeat gap {heartbeat_gap(fake):.2f} s; "
        f"fates {dict(stats.fates)}; max Redirects per caller {max(stats.redirects.values())}"
    )
    assert waiting >= 200
    assert new_epoch > old_epoch
    assert new_holder != holder
    assert acted_s <= TIMING.ttl_s + 1.0, r.logs
    assert not redirected_twice(fake), r.logs
    assert not stats.repeated_routes()
    assert stats.interrupted_routes == 0
    assert {epoch_of(a) for a in fake.actions("redirect")} <= {old_epoch, new_epoch}
    assert all(code == 0 for code in r.statuses.values()), (r.statuses, r.logs)
