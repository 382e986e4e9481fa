"""Generated callers: a seed replays the same calls; the fates add up."""

from __future__ import annotations

import asyncio

import pytest

from connectors.asterisk.fake import Dist, TrafficSpec, arrivals
from tests.integration.fake_asterisk.conftest import MakeFake
from tests.integration.fake_asterisk.support import AmiConn

SPEC = TrafficSpec(
    rates={"75": 2.0, "92": 1.0},
    patience=Dist.exponential(6.0),
    talk=Dist.fixed(2.0),
    priorities={"normal": 3.0, "pro": 1.0},
    seed=42,
)


def test_same_seed_gives_the_same_arrivals() -> None:
    """Two draws with one seed are equal; another seed differs."""
    first = arrivals(SPEC, horizon_s=60.0)
    assert first == arrivals(SPEC, horizon_s=60.0)
    assert first != arrivals(TrafficSpec(rates=SPEC.rates, seed=43), horizon_s=60.0)
    assert [a.at_s for a in first] == sorted(a.at_s for a in first)
    per_dept = {d: sum(1 for a in first if a.dept == d) for d in SPEC.rates}
    assert 80 <= per_dept["75"] <= 160
    assert 30 <= per_dept["92"] <= 90


def test_a_department_stream_does_not_depend_on_the_others() -> None:
    """Adding a department leaves the other department's callers unchanged."""
    alone = arrivals(TrafficSpec(rates={"75": 2.0}, seed=42), 30.0)
    mixed = arrivals(TrafficSpec(rates={"75": 2.0, "93": 5.0}, seed=42), 30.0)
    assert alone == [a for a in mixed if a.dept == "75"]


async def callers_seen(make_fake: MakeFake, seconds: float) -> list[tuple[str, str]]:
    """Run seeded traffic on a fresh fake; (DID, CallerIDNum) of each new caller channel."""
    fake = await make_fake()
    conn = await AmiConn.open(fake.port)
    await conn.login()
    fake.start_traffic(SPEC)
    await asyncio.sleep(seconds)
    fake.stop_traffic()
    await conn.request("Ping")
    new = [f for f in conn.events("Newchannel") if f.get("Context") == "acd-did"]
    await conn.close()
    return [(f.get("Exten", ""), f.get("CallerIDNum", "")) for f in new]


@pytest.mark.asyncio
async def test_seeded_traffic_replays_the_same_callers_on_the_wire(make_fake: MakeFake) -> None:
    """Two fakes with the same seed announce the same callers, in the same order per dept."""
    first = await callers_seen(make_fake, 0.6)
    second = await callers_seen(make_fake, 0.6)
    assert len(first) >= 10
    expected = arrivals(SPEC, horizon_s=100.0)
    for dept in SPEC.rates:
        mine = [c for c in first if c[0] == f"150{dept}"]
        theirs = [c for c in second if c[0] == f"150{dept}"]
        shortest = min(len(mine), len(theirs))
        assert mine[:shortest] == theirs[:shortest]
        drawn = [(f"150{a.dept}", a.caller_num) for a in expected if a.dept == dept]
        assert mine == drawn[: len(mine)]


@pytest.mark.asyncio
async def test_without_middleware_every_generated_caller_ends_in_fallback(
    make_fake: MakeFake,
) -> None:
    """No heartbeat: callers fail open; the tallies count each caller once."""
    fake = await make_fake(fallback_answer_delay=Dist.fixed(50.0))
    fake.start_traffic(SPEC)
    await asyncio.sleep(0.5)
    fake.stop_traffic()
    # The last callers may still be in the loop's first wait: give them (a loaded machine's)
    # time to find the heartbeat stale, rather than counting them as not fallen back.
    loop = asyncio.get_running_loop()
    until = loop.time() + 5.0
    while fake.stats().waiting and loop.time() < until:
        await asyncio.sleep(0.05)
    stats = fake.stats()
    assert stats.callers >= 10
    # Nobody is left waiting: each caller either fell back or hung up first (patience is
    # drawn, ~6 s mean, so a few hang up before their first heartbeat check).
    assert stats.waiting == 0, stats
    assert stats.fallback + stats.abandoned == stats.callers, stats
    assert stats.fallback >= stats.callers // 2, stats
    assert stats.answered == 0
    assert sum(stats.redirects.values()) == 0
