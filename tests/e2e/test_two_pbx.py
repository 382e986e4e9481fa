"""Two Asterisk servers at once, as ``acd run`` wires them: each call belongs to its PBX.

Paris (75) takes its 15 calls on pbx-paris, where its ARM phones are registered; the
Hauts-de-Seine (92) on pbx-92. The contract dials ``ACD_TARGET`` on the PBX that holds
the caller, so a department's ARM are reached through the PBX of that department's
calls. Both fakes start at the same EPOCH second: their first callers carry the same
Uniqueid, which only the PBX name tells apart.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from acd.bootstrap import PbxTarget, build_service, run_service
from acd.core import events as ev
from acd.core.commands import (
    CallRecord,
    Command,
    OfferCall,
    OverflowCall,
    SendToFallback,
    VerifyRoute,
)
from acd.core.ids import CallId
from acd.core.states import TERMINAL_CALL_STATES, CallState
from connectors.asterisk.fake import Dist, FakeAsterisk, FakeConfig, Fate, TrafficSpec
from tests.e2e.test_routing_over_ami import until

SCALE = 0.05  # the fakes run 20x faster than the middleware's wall clock
RATE = 0.3  # callers per model second on each PBX: 6 per second
AGENTS = 5  # per department
SITES = {"pbx-paris": "75", "pbx-92": "92"}


def _config(tmp_path: Path) -> Path:
    """Two PBX entries, two SAMU, each SAMU's ARM serving their own SAMU only."""
    agents = "\n".join(
        f"  - {{id: arm-{d}{i:02d}, name: ARM {d}-{i}, endpoint: PJSIP/arm-{d}{i:02d}, "
        f'serves: [{{dept: "{d}"}}]}}'
        for d in SITES.values()
        for i in range(1, AGENTS + 1)
    )
    pbx = "\n".join(
        f"  - {{name: {name}, host: 127.0.0.1, username: acd15, secret: {{env: ACD_NOT_READ}}}}"
        for name in SITES
    )
    text = f"""
instance: {{name: two-pbx}}
pbx:
{pbx}
redis: {{url: "memory://"}}
journal: {{url: "sqlite:///{tmp_path}/journal.db", spool: "{tmp_path}/journal.spool"}}
departments:
  - {{id: "75", name: SAMU de Paris, queues: [{{id: 75-general}}]}}
  - {{id: "92", name: SAMU des Hauts-de-Seine, queues: [{{id: 92-general}}]}}
agents:
{agents}
"""
    path = tmp_path / "acd.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Ledger:
    """What the engine decided, per call: arrivals, terminal states, the routes it made."""

    arrived: set[CallId] = field(default_factory=set)
    terminal: dict[CallId, list[CallState]] = field(default_factory=lambda: defaultdict(list))
    route_owner: dict[str, str] = field(default_factory=dict)
    """Route id -> the PBX of the call it was decided for."""

    def __call__(self, event: ev.Event, commands: list[Command]) -> None:
        if isinstance(event, ev.CallArrived):
            self.arrived.add(event.call)
        for c in commands:
            if isinstance(c, CallRecord) and c.state in TERMINAL_CALL_STATES:
                self.terminal[c.call].append(c.state)
            if isinstance(c, OfferCall | OverflowCall | SendToFallback | VerifyRoute):
                self.route_owner[c.route] = c.call.partition("/")[0]


def _routes_written(fake: FakeAsterisk) -> set[str]:
    """The route ids a PBX was given (Setvar ACD_ROUTE_ID)."""
    return {r.get("Value") for r in fake.actions("Setvar") if r.get("Variable") == "ACD_ROUTE_ID"}


def _waited(fake: FakeAsterisk) -> set[str]:
    """The callers that reached the waiting loop (ACDWaiting), seen or not by the middleware."""
    return {
        dict(fields).get("Uniqueid", "")
        for fields in fake.history
        if ("UserEvent", "ACDWaiting") in fields
    }


@pytest.mark.asyncio
async def test_two_pbx_route_their_own_calls_and_a_cut_link_leaves_the_other_alone(
    tmp_path: Path,
) -> None:
    """Traffic on both PBX; one link cut for a second: the other keeps routing undisturbed."""
    epoch0 = float(int(time.time()))  # both fakes on the same EPOCH second
    fakes: dict[str, FakeAsterisk] = {}
    for seed, (name, dept) in enumerate(SITES.items(), start=1):
        config = FakeConfig(
            scale=SCALE,
            epoch0=epoch0,
            seed=seed,
            ring_delay=Dist.fixed(1.0),
            hangup_linger_s=0.02,
            auth_fail_delay_s=0.05,
        )
        fakes[name] = await FakeAsterisk(config).start()
        fakes[name].register_agents(f"PJSIP/arm-{dept}{i:02d}" for i in range(1, AGENTS + 1))
    paris, hds = fakes["pbx-paris"], fakes["pbx-92"]
    for f in fakes.values():  # a heartbeat still fresh: the callers wait for the middleware
        f.set_global("ACD_HEARTBEAT", str(f.epoch()))
    first = {name: fakes[name].add_caller(dept, talk_s=4.0) for name, dept in SITES.items()}
    assert first["pbx-paris"] == first["pbx-92"]  # one Uniqueid, two calls

    targets = {
        name: PbxTarget(host="127.0.0.1", port=f.port, username="acd15", secret="change-me")
        for name, f in fakes.items()
    }
    service = build_service(str(_config(tmp_path)), targets=targets)
    ledger = Ledger()
    service.dispatcher.listeners = (*service.dispatcher.listeners, ledger)
    stop = asyncio.Event()
    task = asyncio.create_task(run_service(service, login_all=True, stop=stop))
    try:
        await until(lambda: all(c.logged_in for c in service.clients), timeout_s=10)
        both_first = {CallId(f"{name}/{first[name]}") for name in SITES}
        await until(lambda: both_first <= ledger.arrived, timeout_s=5)  # adopted at login

        for name, dept in SITES.items():
            fakes[name].start_traffic(
                TrafficSpec(
                    rates={dept: RATE},
                    patience=Dist.exponential(120.0),
                    talk=Dist.fixed(4.0),
                    seed=len(dept),
                )
            )
        await asyncio.sleep(2.0)
        links = {c.name: c for c in service.clients}
        answered_before = paris.stats().answered
        cut_from = paris.clock.epoch()
        await hds.cut_link(down_s=1.0)  # pbx-92 unreachable for a second
        cut_until = paris.clock.epoch()
        answered_during = paris.stats().answered - answered_before
        await until(lambda: links["pbx-92"].logged_in, timeout_s=10)
        await asyncio.sleep(2.0)
        for f in fakes.values():
            f.stop_traffic()
        await until(lambda: all(f.stats().active_channels == 0 for f in fakes.values()), 20)
        await until(lambda: not service.engine.live_calls(), timeout_s=10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        for f in fakes.values():
            await f.stop()

    # The engine knew every caller who waited (live, or adopted by a resync), under its
    # PBX's name, except pbx-92 callers who came and left while their link was cut: AMI
    # has no replay, and their channels were gone by the resync.
    waited = {CallId(f"{n}/{u}") for n, f in fakes.items() for u in _waited(f)}
    assert ledger.arrived <= waited
    for missed in waited - ledger.arrived:
        pbx, _, uid = missed.partition("/")
        caller = fakes[pbx].caller(uid)
        assert pbx == "pbx-92"
        assert caller is not None
        assert caller.fate is Fate.ABANDONED
        assert caller.channel.created <= cut_until
    assert set(ledger.terminal) == ledger.arrived
    assert all(len(states) == 1 for states in ledger.terminal.values())
    for name, f in fakes.items():
        stats = f.stats()
        # Actions only ever named this PBX's own channels.
        assert all(f.caller(r.get("Channel")) for r in f.action_log if r.get("Channel"))
        assert stats.callers >= 15, (name, stats.callers)
        assert stats.answered > stats.callers // 2, (name, dict(stats.fates))
        assert stats.fates.get("lost", 0) == 0
        assert stats.repeated_routes() == {}
        assert stats.interrupted_routes == 0
        # Each PBX only ever read the routes of its own calls.
        written = _routes_written(f)
        assert written
        assert {ledger.route_owner[r] for r in written} == {name}
    # Both first callers (same Uniqueid) were routed, each by its own PBX.
    for name, f in fakes.items():
        assert f.stats().redirects[first[name]] == 1
    # The cut: pbx-92's link came back with a resync; pbx-paris never noticed.
    assert links["pbx-92"].stats().reconnects >= 1
    assert links["pbx-paris"].stats().reconnects == 0
    assert service.dispatcher.stats.resyncs >= 3  # two logins, then pbx-92's reconnect
    # Paris went on answering while pbx-92 was cut off, each caller redirected at once
    # (Paris's clock: from the caller's arrival to the Redirect Paris read).
    assert answered_during > 0
    redirected = {r.get("Channel"): r.epoch for r in reversed(paris.actions("Redirect"))}
    arrivals = {c.uniqueid: c.channel.created for c in paris.pbx.st.callers.values()}
    during = [u for u, at in arrivals.items() if cut_from <= at <= cut_until and u in redirected]
    assert during
    assert max(redirected[u] - arrivals[u] for u in during) < 0.5
