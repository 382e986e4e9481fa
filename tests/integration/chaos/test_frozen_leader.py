"""SIGSTOP of the active instance past its lease, then SIGCONT: it acts no more and exits 3."""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path

import pytest

from tests.integration.chaos.cluster import (
    DEPT,
    STATE_CHANGING,
    Timing,
    epoch_of,
    first_action_of,
    heartbeat_gap,
    redirected_twice,
    unfinished,
    until,
)
from tests.integration.chaos.shared import shared_rig

TIMING = Timing(ttl_s=2.0, renew_every_s=0.3, margin_s=0.5)
AGENTS = 20
CALLERS = 150
FROZEN_S = TIMING.ttl_s + 2.0


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_leader_frozen_past_its_lease_sends_nothing_when_it_wakes_and_exits_3(
    tmp_path: Path,
) -> None:
    """SIGSTOP > TTL: no action of the old epoch after its expiry, exit 3, callers routed once."""
    loop = asyncio.get_running_loop()
    async with shared_rig(
        tmp_path,
        "chaos-stop",
        agents=AGENTS,
        timing=TIMING,
    ) as r:
        fake, db = r.fake, r.db
        await r.start(supervise=True)
        callers = [fake.add_caller(DEPT, caller_num=f"06{i:08d}", patience_s=900.0)
                   for i in range(CALLERS)]  # fmt: skip
        await until(lambda: fake.stats().answered >= AGENTS, 15, "every ARM busy")
        await asyncio.sleep(random.uniform(0.0, 1.0))  # anywhere in the routing's stream
        holder, old_epoch, _left = await db.current()
        frozen = r.cluster.node_of(holder)
        frozen.signal(signal.SIGSTOP)
        stopped_at = loop.time()
        await asyncio.sleep(FROZEN_S)
        frozen.signal(signal.SIGCONT)
        woke_at = loop.time()
        await until(lambda: frozen.exits != [], 15, "the old leader exits")
        await until(lambda: not unfinished(fake, callers), 60, "every caller served")
        await until(lambda: frozen.proc is not None, 5, "the old leader restarted")
        new_holder, new_epoch, _ = await db.current()
        await until(r.outbox_drained, 30, "the outbox drained")
        await until(lambda: r.recorded(callers), 20, "every caller's acd_call row")
        fenced = await db.fenced()
    stats = fake.stats()
    taken = first_action_of(fake, newer_than=old_epoch)
    expiry = stopped_at + TIMING.ttl_s  # its last renew came before the freeze
    late = [a for a in fake.actions() if epoch_of(a) == old_epoch and a.at > expiry]
    acting = [a for a in late if a.name.lower() in STATE_CHANGING]
    assert taken is not None
    print(
        f"\nSIGSTOP {FROZEN_S:.1f} s: epoch {new_epoch} acted {taken.at - stopped_at:.2f} s after "
        f"the freeze; epoch {old_epoch} after its expiry: {sorted({a.name for a in late})} "
        f"({len(acting)} acting); exits {frozen.exits}; {fenced} journal entries fenced; "
        f"widest heartbeat gap {heartbeat_gap(fake):.2f} s; fates {dict(stats.fates)}"
    )
    assert frozen.exits[0] == 3, r.logs  # then restarted (as a standby) and stopped: 0
    assert new_holder != holder
    assert new_epoch == old_epoch + 1
    assert taken.at < woke_at  # the new leader acted during the freeze
    assert not late, [(a.name, a.action_id, a.at - stopped_at) for a in late]
    assert not redirected_twice(fake), r.logs
    assert not stats.repeated_routes()
    assert stats.interrupted_routes == 0
    assert all(code == 0 for code in r.statuses.values()), (r.statuses, r.logs)
