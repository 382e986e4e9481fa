"""A clean stop hands over at once; every instance down: the fallback answers; a restart routes."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from connectors.asterisk.fake import Fate
from tests.integration.chaos.cluster import (
    DEPT,
    Timing,
    beating,
    epoch_of,
    fallback_reasons,
    fates,
    first_action_of,
    unfinished,
    until,
)
from tests.integration.chaos.shared import shared_rig

TIMING = Timing(ttl_s=2.0, renew_every_s=0.3, margin_s=0.5)
AGENTS = 5
HEARTBEAT_MAX_S = 5.0
"""``ACD_HEARTBEAT_MAX`` of the dialplan (the fake's extensions.conf)."""


@pytest.mark.slow
@pytest.mark.asyncio
async def test_with_every_instance_down_the_fallback_answers_and_a_restart_routes_again(
    tmp_path: Path,
) -> None:
    """SIGTERM hands over at once; all down: callers go to the fallback; one restart routes."""
    loop = asyncio.get_running_loop()
    async with shared_rig(
        tmp_path,
        "chaos-down",
        agents=AGENTS,
        timing=TIMING,
    ) as r:
        fake, db = r.fake, r.db
        holder, first_epoch = await r.start()
        before = [fake.add_caller(DEPT, caller_num=f"06{i:08d}") for i in range(AGENTS)]
        await until(lambda: not unfinished(fake, before), 15, "the first callers served")
        stopped = r.cluster.node_of(holder)
        stopped.signal(signal.SIGTERM)
        stopped_at = loop.time()
        await until(
            lambda: first_action_of(fake, newer_than=first_epoch) is not None, 5,
            "the standby acting after the clean stop",
        )  # fmt: skip
        handed = first_action_of(fake, newer_than=first_epoch)
        assert await stopped.wait_exit(10) == 0
        _, old_epoch, _ = await db.current()
        for node in r.cluster.running():
            node.signal(signal.SIGKILL)
        killed_at = loop.time()
        outage: list[str] = []
        while loop.time() - killed_at < HEARTBEAT_MAX_S + 4.0:
            outage.append(fake.add_caller(DEPT, caller_num=f"07{len(outage):08d}"))
            await asyncio.sleep(0.5)
        await until(lambda: not unfinished(fake, outage), 15, "the outage's callers answered")
        stopped.start()
        restarted_at = loop.time()
        await until(lambda: beating(fake), 30, "a fresh heartbeat")
        after = [fake.add_caller(DEPT, caller_num=f"08{i:08d}") for i in range(AGENTS)]
        await until(lambda: not unfinished(fake, after), 15, "the callers after the restart")
        _, new_epoch, _ = await db.current()
        await until(r.outbox_drained, 30, "the outbox drained")
        await until(lambda: r.recorded(before + after), 20, "the routed callers' rows")
        unjournaled = await r.unrecorded(outage)
    routed = first_action_of(fake, newer_than=old_epoch, names=frozenset({"redirect"}))
    during, reasons = fates(fake, outage), fallback_reasons(fake, outage)
    outage_redirects = sum(fake.stats().redirects.get(u, 0) for u in outage)
    assert handed is not None
    assert routed is not None
    print(
        f"\nSIGTERM of the leader: epoch {old_epoch} acted {handed.at - stopped_at:.2f} s later; "
        f"all instances killed: {len(outage)} callers during the outage, fates {dict(during)} "
        f"({dict(reasons)}), Redirects of them {outage_redirects}, without a journal row "
        f"{unjournaled}; restart: epoch {new_epoch} routed {routed.at - restarted_at:.2f} s "
        f"after the process started"
    )
    assert handed.at - stopped_at < TIMING.renew_every_s + 1.0  # released, not expired
    assert during == {Fate.FALLBACK.value: len(outage)}
    assert outage_redirects == 0  # the restarted leader leaves callers in the fallback alone
    assert fates(fake, after) == {Fate.ANSWERED.value: len(after)}
    assert new_epoch == old_epoch + 1
    assert all(epoch_of(a) == new_epoch for a in fake.actions("redirect") if a.at > killed_at)
    assert [n.exits for n in r.cluster.nodes if n is not stopped] == [[-signal.SIGKILL]]
    assert all(code == 0 for code in r.statuses.values()), (r.statuses, r.logs)
