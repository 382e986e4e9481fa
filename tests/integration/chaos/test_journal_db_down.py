"""The journal database stopped: nobody acts and the fallback serves; back, everything resumes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from connectors.asterisk.fake import Fate
from tests.integration.chaos.cluster import (
    DEPT,
    STATE_CHANGING,
    Timing,
    epoch_of,
    fates,
    first_action_of,
    redirected_twice,
    unfinished,
    until,
)
from tests.integration.chaos.rig import rig
from tests.integration.faults.servers import private_postgres
from tests.services import redis_url, unique_name

TIMING = Timing(ttl_s=2.0, renew_every_s=0.3, margin_s=0.5)
AGENTS = 5
OUTAGE_S = 10.0
"""Longer than the fence (TTL - margin) plus ACD_HEARTBEAT_MAX (5 s) plus a loop turn."""


@pytest.mark.slow
@pytest.mark.asyncio
async def test_without_its_database_nobody_acts_then_leadership_and_journal_resume(
    tmp_path: Path,
) -> None:
    """PostgreSQL down: no action past the TTL, fallback serves; back: routing, journal resume."""
    redis = redis_url()
    namespace = unique_name("chaos-sql").replace("_", "-")
    loop = asyncio.get_running_loop()
    with private_postgres() as pg:
        async with rig(
            tmp_path, journal_url=pg.url, redis_url=redis, namespace=namespace,
            agents=AGENTS, timing=TIMING,
        ) as r:  # fmt: skip
            fake, db = r.fake, r.db
            _, old_epoch = await r.start(supervise=True)
            before = [fake.add_caller(DEPT, caller_num=f"06{i:08d}") for i in range(3 * AGENTS)]
            await asyncio.sleep(1.0)  # routing under way when the database goes
            await asyncio.to_thread(pg.stop, "fast")
            down_at = loop.time()
            arrived: dict[str, float] = {}
            while loop.time() - down_at < OUTAGE_S:
                arrived[fake.add_caller(DEPT, caller_num=f"07{len(arrived):08d}")] = loop.time()
                await asyncio.sleep(0.5)
            outage = list(arrived)
            restart_at = loop.time()  # the database may answer before pg_ctl returns
            await asyncio.to_thread(pg.start)
            back_at = loop.time()
            await until(
                lambda: first_action_of(fake, newer_than=old_epoch) is not None, 15,
                "a leader acting again",
            )  # fmt: skip
            await until(r.outbox_drained, 30, "the outbox drained")
            drained_s = loop.time() - back_at
            after = [fake.add_caller(DEPT, caller_num=f"08{i:08d}") for i in range(AGENTS)]
            await until(lambda: not unfinished(fake, before + outage + after), 30, "all served")
            _, new_epoch, _ = await db.current()
            await until(r.outbox_drained, 30, "the outbox drained again")
            await until(lambda: r.recorded(before + after), 20, "the routed callers' rows")
            unjournaled = await r.unrecorded(outage)
            exits = {n.name: list(n.exits) for n in r.cluster.nodes}
            fenced = next((n for n in r.cluster.nodes if n.exits), None)
            down_mono = time.monotonic() - (loop.time() - down_at)
    stats = fake.stats()
    resumed = first_action_of(fake, newer_than=old_epoch)
    assert resumed is not None
    assert fenced is not None
    exited_s = fenced.ended[0] - down_mono
    quiet = [a for a in fake.actions() if down_at + TIMING.ttl_s < a.at < restart_at]
    acting = [a for a in quiet if a.name.lower() in STATE_CHANGING]
    outage_fates = fates(fake, outage)
    print(
        f"\nPostgreSQL down {back_at - down_at:.1f} s: actions from TTL after the stop to the "
        f"restart {sorted({a.name for a in quiet})} ({len(acting)} acting); outage callers "
        f"{dict(outage_fates)}; epoch {new_epoch} acted {resumed.at - back_at:.2f} s after "
        f"PostgreSQL was back, outbox drained {drained_s:.1f} s after it; the leader exited "
        f"{exited_s:.1f} s after the stop, exits {exits}; fates {dict(stats.fates)}; outage "
        f"callers without a journal row: {unjournaled}/{len(outage)}"
    )
    assert not acting, [(a.name, a.action_id, a.at - down_at) for a in acting]
    assert all(epoch_of(a) is None for a in quiet)
    late = [u for u, at in arrived.items() if at > down_at + 8.0]  # the beat stale by then
    assert fates(fake, late) == {Fate.FALLBACK.value: len(late)}
    assert new_epoch > old_epoch
    assert fates(fake, after) == {Fate.ANSWERED.value: len(after)}
    assert not redirected_twice(fake)
    assert fenced.exits[0] == 3  # the leader fenced itself, then came back as a standby
    assert all(code == 0 for code in r.statuses.values()), (r.statuses, r.logs)
