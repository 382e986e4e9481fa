"""Engine figures: events/s over a realistic mix, and decision latency against queue depth."""

from __future__ import annotations

import gc
import heapq
import math
import random
import sys
import time
from itertools import count
from typing import cast

from acd.core import events as ev
from acd.core.commands import Command, OfferCall
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId, DeptId, QueueId
from acd.core.spec import (
    AgentSpec,
    DepartmentSpec,
    EngineSpec,
    Membership,
    PenaltyStep,
    QueueSpec,
    Strategy,
)
from acd.core.states import CallState
from acd.core.testing import PRIORITIES

AGENTS = 2_000
DEPTS = 20
MIX_EVENTS = 300_000
DEPTHS = (100, 1_000, 10_000)
SAMPLES = 2_000
THROUGHPUT_GOAL = 100_000
RATIO_GOAL = 2.0
START = 1_700_000_000.0
ENGLISH = (("anglais", 1),)


# -- throughput over a realistic mix -------------------------------------------------------


def mix_spec() -> EngineSpec:
    """20 SAMU of 100 ARM each; every other ARM also helps the next SAMU at penalty 1."""
    per = AGENTS // DEPTS
    depts = [f"{d:02d}" for d in range(1, DEPTS + 1)]
    queues = tuple(
        QueueSpec(
            id=QueueId(f"{d}-main"),
            dept=DeptId(d),
            wrapup_s=10.0,
            max_wait_s=600.0,
            penalty_steps=(PenaltyStep(after_s=30.0, max_penalty=1),),
        )
        for d in depts
    )
    agents = []
    for i, d in enumerate(depts):
        neighbour = depts[(i + 1) % len(depts)]
        for j in range(per):
            serves = [Membership(queue=QueueId(f"{d}-main"))]
            if j % 2:
                serves.append(Membership(queue=QueueId(f"{neighbour}-main"), penalty=1))
            agents.append(
                AgentSpec(
                    id=AgentId(f"{d}-a{j}"),
                    name=f"ARM {d}-{j}",
                    endpoint=f"PJSIP/{d}-a{j}",
                    memberships=tuple(serves),
                )
            )
    return EngineSpec(
        departments=tuple(
            DepartmentSpec(id=DeptId(d), name=f"SAMU {d}", queues=(QueueId(f"{d}-main"),))
            for d in depts
        ),
        queues=queues,
        agents=tuple(agents),
        priorities=PRIORITIES,
        no_answer_pause_s=30.0,
    )


Agenda = list[tuple[float, int, str, object]]
"""When, tie-breaker, what happens (``event``, ``arrival``, ``patience``, ``pause``), payload."""


class MixSimulator:
    """Callers, phones and ARM around the engine: every reaction is an item on an agenda.

    Calls arrive at about the agents' capacity (a slow swell 25 % above and below it),
    10 % vital; callers give up after an exponential patience (mean 90 s) if nobody has
    answered; phones confirm the route, then 97 % answer after 1–6 s and 3 % ring out (the
    ARM is paused 30 s); talks last 120 s on average, then 10 s of wrap-up; ARM take short
    breaks. Time spent inside ``Engine.handle`` is measured apart from the simulator's.
    """

    def __init__(self, seed: int = 15) -> None:
        self.spec = mix_spec()
        self.engine = Engine(self.spec)
        self.rng = random.Random(seed)
        self.agenda: Agenda = []
        self.seq = count()
        self.now = START
        self.depts = [d.id for d in self.spec.departments]
        self.agents = [a.id for a in self.spec.agents]
        self.calls = 0
        self.engine_ns = 0
        self.deadline_ns = 0
        self.events = 0
        self.wall_s = 0.0
        self.kinds: dict[str, list[int]] = {}

    def at(self, when: float, what: str, payload: object = None) -> None:
        """Schedule something of the outside world."""
        heapq.heappush(self.agenda, (when, next(self.seq), what, payload))

    def send(self, event: ev.Event) -> list[Command]:
        """Deliver one event to the engine, timed, and react to its offers."""
        started = time.perf_counter_ns()
        out = self.engine.handle(event, self.now)
        elapsed = time.perf_counter_ns() - started
        self.engine_ns += elapsed
        self.events += 1
        kind = self.kinds.setdefault(type(event).__name__, [0, 0])
        kind[0] += 1
        kind[1] += elapsed
        for command in out:
            if isinstance(command, OfferCall):
                self.on_offer(command)
        return out

    def on_offer(self, offer: OfferCall) -> None:
        """The phone rings: the route is confirmed, then answered or rung out."""
        rng = self.rng
        confirmed = ev.RouteConfirmed(call=offer.call, route=offer.route)
        self.at(self.now + 0.2, "event", confirmed)
        if rng.random() < 0.97:
            answered = ev.CallAnswered(call=offer.call, route=offer.route)
            self.at(self.now + rng.uniform(1.0, 6.0), "answer", answered)
        else:
            cause = ev.RouteFailure.NO_ANSWER
            failed = ev.RouteFailed(call=offer.call, route=offer.route, cause=cause)
            self.at(self.now + offer.ring_timeout_s, "event", failed)

    def arrival(self) -> None:
        """A caller dials 15; the next one is drawn, and this one's patience."""
        rng = self.rng
        self.calls += 1
        cid = CallId(f"pbx1/{self.calls}")
        priority = "vitale" if rng.random() < 0.1 else "normal"
        self.send(ev.CallArrived(call=cid, dept=rng.choice(self.depts), priority=priority))
        self.at(self.now + rng.expovariate(1 / 90.0), "patience", cid)
        capacity = AGENTS / 136.0  # agents / (ring + talk + wrap-up)
        rate = capacity * (1.0 + 0.25 * math.sin((self.now - START) / 300.0))
        self.at(self.now + rng.expovariate(rate), "arrival")
        if rng.random() < 0.05:
            self.at(self.now, "pause", rng.choice(self.agents))

    def run(self, events: int) -> None:
        """Log everyone in, warm up, then play until ``events`` events were measured."""
        for agent in self.agents:
            self.send(ev.AgentLoggedIn(agent=agent))
        self.arrival()
        warmup = events // 10
        while self.events < warmup:
            self.step()
        self.engine_ns, self.deadline_ns, self.events, self.kinds = 0, 0, 0, {}
        while self.events < events:
            self.step()

    def step(self) -> None:
        """The next thing to happen: an engine deadline, or something of the world."""
        started = time.perf_counter_ns()
        due = self.engine.next_deadline()
        self.deadline_ns += time.perf_counter_ns() - started
        if due is not None and due <= self.agenda[0][0]:
            self.now = max(self.now, due)
            self.send(ev.Tick())
            return
        when, _, what, payload = heapq.heappop(self.agenda)
        self.now = max(self.now, when)
        if what == "arrival":
            self.arrival()
        elif what == "answer":
            assert isinstance(payload, ev.CallAnswered)
            if self.send(payload):  # not a stale route: the caller was still there
                end = ev.CallHungUp(call=payload.call)
                self.at(self.now + self.rng.expovariate(1 / 120.0), "event", end)
        elif what == "patience":
            assert isinstance(payload, str)
            view = self.engine.call(CallId(payload))
            if view is not None and view.state in (CallState.WAITING, CallState.OFFERED):
                self.send(ev.CallHungUp(call=view.id))
        elif what == "pause":
            agent = AgentId(str(payload))
            self.send(ev.AgentPaused(agent=agent, reason="pause"))
            back = ev.AgentUnpaused(agent=agent)
            self.at(self.now + self.rng.expovariate(1 / 300.0), "event", back)
        else:
            self.send(cast(ev.Event, payload))


def throughput(rounds: int = 2) -> MixSimulator:
    """The best of ``rounds`` identical runs (the machine is shared: load drifts)."""
    best: MixSimulator | None = None
    for _ in range(rounds):
        sim = MixSimulator()
        gc.collect()
        started = time.perf_counter()
        sim.run(MIX_EVENTS)
        sim.wall_s = time.perf_counter() - started
        if best is None or sim.engine_ns < best.engine_ns:
            best = sim
    assert best is not None
    return best


def print_throughput(sim: MixSimulator) -> None:
    """The mix, the engine's rate with and without ``next_deadline``, and the goal."""
    rate = sim.events / (sim.engine_ns / 1e9)
    with_deadlines = sim.events / ((sim.engine_ns + sim.deadline_ns) / 1e9)
    print(f"mix: {DEPTS} SAMU × {AGENTS // DEPTS} ARM = {AGENTS:,} agents, {sim.calls:,} calls")
    print(f"measured events: {sim.events:,} (after {MIX_EVENTS // 10:,} of warm-up)")
    print(f"{'event':18s}{'count':>10s}{'mean µs':>10s}")
    for name, (n, ns) in sorted(sim.kinds.items(), key=lambda x: -x[1][0]):
        print(f"{name:18s}{n:>10,}{ns / n / 1_000:>10.1f}")
    verdict = "meets" if rate >= THROUGHPUT_GOAL else "misses"
    print(f"engine throughput: {rate:,.0f} events/s inside Engine.handle")
    print(f"  with next_deadline() after each event: {with_deadlines:,.0f} events/s")
    print(f"  with the simulator around it: {sim.events / sim.wall_s:,.0f} events/s end to end")
    print(f"goal ≥ {THROUGHPUT_GOAL:,} events/s: {verdict}")


# -- decision latency against queue depth --------------------------------------------------


def depth_spec(strategy: Strategy) -> EngineSpec:
    """One queue, 2,000 ARM: the even ones speak English, the odd ones do not."""
    q = QueueId("75-main")
    return EngineSpec(
        departments=(DepartmentSpec(id=DeptId("75"), name="SAMU 75", queues=(q,)),),
        queues=(QueueSpec(id=q, dept=DeptId("75"), strategy=strategy),),
        agents=tuple(
            AgentSpec(
                id=AgentId(f"a{i}"),
                name=f"ARM {i}",
                endpoint=f"PJSIP/a{i}",
                memberships=(Membership(queue=q),),
                skills=ENGLISH if i % 2 == 0 else (),
            )
            for i in range(AGENTS)
        ),
        priorities=PRIORITIES,
    )


class Backlog:
    """2,000 ARM in one queue and ``depth`` English-speaking callers waiting for one.

    Every English-speaking ARM is on a call; of the others, half are on a call and half
    free (nobody waiting can go to them). Three decisions are timed at constant depth:

    * arrival → offer: a plain call arrives and the queue's strategy picks one of the
      ~500 free ARM (``handle(CallArrived)`` with ``depth`` calls waiting in the queue);
      an untimed hang-up elsewhere then frees another one;
    * agent freed → picks call: an English-speaking ARM's caller hangs up and the ARM
      takes the head of the backlog (``handle(CallHungUp)`` yields that offer);
    * arrival → queued: a new English-speaking caller joins the backlog, keeping the depth.
    """

    def __init__(self, depth: int, strategy: Strategy) -> None:
        self.engine = Engine(depth_spec(strategy))
        self.now = START
        self.n = 0
        self.talking: dict[AgentId, CallId] = {}
        for i in range(AGENTS):
            self.handle(ev.AgentLoggedIn(agent=AgentId(f"a{i}")))
        for i in range(AGENTS):
            self.answer(self.arrive(ENGLISH if i % 2 == 0 else ()))
        for _ in range(depth):
            assert not self.arrive(ENGLISH)
        self.depth = depth
        self.plain = [a for a in self.talking if int(a[1:]) % 2]
        self.english = [a for a in self.talking if not int(a[1:]) % 2]
        for agent in self.plain[: len(self.plain) // 2]:
            self.end(agent)
        self.plain = self.plain[len(self.plain) // 2 :]

    def handle(self, event: ev.Event) -> list[OfferCall]:
        """Deliver an event 10 ms after the previous one (untimed); the offers it caused."""
        self.now += 0.01
        return [c for c in self.engine.handle(event, self.now) if isinstance(c, OfferCall)]

    def timed(self, event: ev.Event) -> tuple[int, list[OfferCall]]:
        """Deliver an event; its cost in ns and its offers."""
        self.now += 0.01
        started = time.perf_counter_ns()
        out = self.engine.handle(event, self.now)
        elapsed = time.perf_counter_ns() - started
        return elapsed, [c for c in out if isinstance(c, OfferCall)]

    def arrive(self, skills: tuple[tuple[str, int], ...]) -> list[OfferCall]:
        """A caller arrives (untimed); the offers it caused."""
        return self.handle(self.arrival(skills))

    def arrival(self, skills: tuple[tuple[str, int], ...]) -> ev.CallArrived:
        """The next caller of department 75."""
        self.n += 1
        return ev.CallArrived(call=CallId(f"pbx1/{self.n}"), dept=DeptId("75"), skills=skills)

    def answer(self, offers: list[OfferCall]) -> None:
        """The rung ARM picks up at once (untimed)."""
        for offer in offers:
            self.handle(ev.CallAnswered(call=offer.call, route=offer.route))
            self.talking[offer.agent] = offer.call

    def end(self, agent: AgentId) -> None:
        """The ARM's caller hangs up (untimed); nobody waiting may go to a plain ARM."""
        assert not self.handle(ev.CallHungUp(call=self.talking.pop(agent)))

    def measure(self, samples: int, rng: random.Random) -> dict[str, list[int]]:
        """Time ``samples`` decisions of each kind at constant depth."""
        costs: dict[str, list[int]] = {"arrival": [], "freed": [], "queued": []}
        for _ in range(samples):
            cost, offers = self.timed(self.arrival(()))
            assert len(offers) == 1, "the plain call must be offered to a free ARM"
            costs["arrival"].append(cost)
            self.answer(offers)
            self.plain.append(offers[0].agent)
            i = rng.randrange(len(self.plain))
            self.plain[i], self.plain[-1] = self.plain[-1], self.plain[i]
            self.end(self.plain.pop())

            agent = rng.choice(self.english)
            cost, offers = self.timed(ev.CallHungUp(call=self.talking.pop(agent)))
            assert len(offers) == 1, "the freed ARM must take the head of the backlog"
            costs["freed"].append(cost)
            self.answer(offers)

            cost, offers = self.timed(self.arrival(ENGLISH))
            assert not offers
            costs["queued"].append(cost)
        waiting = self.engine.queue_stats(QueueId("75-main"), self.now).waiting
        assert waiting == self.depth, (waiting, self.depth)
        return costs


def percentile(values: list[int], p: float) -> float:
    """The ``p`` quantile (nearest rank) in microseconds."""
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))
    return ordered[rank] / 1_000


def latencies(depth: int, strategy: Strategy, samples: int) -> Figures:
    """p50 and p99 in µs of each decision kind at ``depth`` waiting."""
    backlog = Backlog(depth, strategy)
    gc.collect()
    costs = backlog.measure(samples, random.Random(depth))
    return {k: (percentile(v, 0.50), percentile(v, 0.99)) for k, v in costs.items()}


Figures = dict[str, tuple[float, float]]


def best_latencies(cases: list[tuple[int, Strategy]], rounds: int = 2) -> list[Figures]:
    """Per case, the lowest p50 and p99 over ``rounds`` rounds run in alternating order.

    The machine is shared: a burst of load elsewhere inflates whichever case is running,
    so every case is measured in each round and each keeps its quietest figures.
    """
    best: list[Figures | None] = [None] * len(cases)
    order = list(range(len(cases)))
    for r in range(rounds):
        for i in order if r % 2 == 0 else reversed(order):
            figures = latencies(*cases[i], SAMPLES)
            seen = best[i]
            best[i] = figures if seen is None else {k: _low(seen[k], figures[k]) for k in figures}
    return [b for b in best if b is not None]


def _low(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return (min(a[0], b[0]), min(a[1], b[1]))


KINDS = {
    "arrival": "arrival → offer",
    "freed": "agent freed → picks call",
    "queued": "arrival → queued",
}


def print_depths(results: dict[int, Figures]) -> None:
    """The latency table against depth, and the ratio to the 100-waiting baseline."""
    print(f"\ndecision latency, {AGENTS:,} agents, longest-idle (µs, p50 / p99):")
    header = f"{'decision':28s}" + "".join(f"{f'{d:,} waiting':>20s}" for d in DEPTHS)
    print(header + f"{'p50 ratio 10k/100':>20s}")
    worst = 0.0
    for kind, label in KINDS.items():
        cells = "".join(
            f"{results[d][kind][0]:>11.1f} / {results[d][kind][1]:>6.1f}" for d in DEPTHS
        )
        ratio = results[DEPTHS[-1]][kind][0] / results[DEPTHS[0]][kind][0]
        worst = max(worst, ratio)
        print(f"{label:28s}{cells}{ratio:>19.2f}x")
    verdict = "meets" if worst <= RATIO_GOAL else "misses"
    print(f"worst cost@10,000 / cost@100 (p50): {worst:.2f}x ({verdict} the ≤ {RATIO_GOAL}x goal)")


def calibration() -> float:
    """Nanoseconds per iteration of a bare Python loop: scales the figures across machines."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter_ns()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, (time.perf_counter_ns() - started) / 1_000_000)
    return best


def main() -> None:
    """Throughput over the mix, latency against depth, and per-strategy latency at 10,000."""
    print(f"calibration: {calibration():.0f} ns per bare loop iteration ({sys.version.split()[0]})")
    print_throughput(throughput())

    by_depth = best_latencies([(d, Strategy.LONGEST_IDLE) for d in DEPTHS])
    print_depths(dict(zip(DEPTHS, by_depth, strict=True)))

    print(f"\nper strategy, {DEPTHS[-1]:,} waiting, {AGENTS:,} agents (µs, p50 / p99):")
    print(f"{'strategy':20s}" + "".join(f"{label:>28s}" for label in KINDS.values()))
    by_strategy = best_latencies([(DEPTHS[-1], s) for s in Strategy])
    for strategy, figures in zip(Strategy, by_strategy, strict=True):
        cells = "".join(f"{figures[k][0]:>19.1f} / {figures[k][1]:>6.1f}" for k in KINDS)
        print(f"{strategy.value:20s}{cells}")


if __name__ == "__main__":
    main()
