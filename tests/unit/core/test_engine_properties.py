"""Engine invariants under any sequence of events: one call per agent, one end per call, FIFO."""

from __future__ import annotations

import bisect
import json
import math
from collections import Counter
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from acd.core import events as ev
from acd.core.commands import (
    AgentRecord,
    CallRecord,
    Command,
    MoveCall,
    OfferCall,
    OverflowCall,
    SendToFallback,
)
from acd.core.engine import Engine
from acd.core.errors import CoreError
from acd.core.ids import AgentId, CallId, DeptId, QueueId, RouteId
from acd.core.overflow import ExternalPartner, OverflowSpec
from acd.core.spec import (
    AgentSpec,
    DepartmentSpec,
    EngineSpec,
    Membership,
    PenaltyStep,
    PriorityClass,
    QueueSpec,
    Skills,
    Strategy,
)
from acd.core.states import TERMINAL_CALL_STATES, AgentState, CallState
from acd.core.testing import simple_spec
from acd.core.timers import Deadline, Deadlines

START = 1_000_000.0
ENGLISH: Skills = (("anglais", 1),)
CAUSES = list(ev.RouteFailure)
EXTERNALS = (
    ExternalPartner(id="samu-60", name="SAMU 60", number="0344000000", trunk="PJSIP/t"),
    ExternalPartner(
        id="samu-45", name="SAMU 45", number="0238000000", trunk="PJSIP/t", accept_blind=True
    ),
)


class DeadlineSpin(AssertionError):
    """A tick kept popping deadlines at the same instant: the engine would never return."""


class GuardedDeadlines(Deadlines):
    """The engine's deadline heap, failing instead of hanging when a tick spins in place."""

    def __init__(self, limit: int = 10_000) -> None:
        super().__init__()
        self.limit = limit
        self.at: float | None = None
        self.pops = 0

    def pop_due(self, now: float) -> Deadline | None:
        """Pop as usual, counting pops at one instant."""
        due = super().pop_due(now)
        if due is not None:
            self.pops = self.pops + 1 if self.at == now else 1
            self.at = now
            if self.pops > self.limit:
                raise DeadlineSpin(f"{self.pops} deadlines popped at {now}: {due}")
        return due


def guarded(engine: Engine) -> Engine:
    """The engine with its deadline heap swapped for a guarded one (done before any event)."""
    engine.deadlines = GuardedDeadlines()
    return engine


# -- the platform under test ---------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """A drawn platform: departments, agents, pooling, timers and limits."""

    depts: tuple[str, ...]
    agents_per_dept: int
    aux_queue: bool
    pooled: bool
    skills: bool
    strategy: Strategy
    wrapup_s: float
    max_length: int | None
    max_wait_s: float | None
    penalty_steps: tuple[PenaltyStep, ...]
    head_start_s: float
    no_answer_pause: bool
    no_answer_pause_s: float | None
    leave_empty: bool
    join_empty: bool


STEPS = (
    (),
    (PenaltyStep(after_s=10.0, max_penalty=1),),
    (PenaltyStep(after_s=5.0, max_penalty=1), PenaltyStep(after_s=40.0, max_penalty=2)),
    (PenaltyStep(after_s=0.1, max_penalty=1), PenaltyStep(after_s=12.3, max_penalty=2)),
)

setups = st.builds(
    Setup,
    depts=st.sampled_from([("75",), ("75", "92"), ("75", "92", "93")]),
    agents_per_dept=st.integers(1, 4),
    aux_queue=st.booleans(),
    pooled=st.booleans(),
    skills=st.booleans(),
    strategy=st.sampled_from(list(Strategy)),
    wrapup_s=st.sampled_from([0.0, 0.0, 5.0, 30.0]),
    max_length=st.sampled_from([None, None, None, 0, 1, 3]),
    max_wait_s=st.none() | st.sampled_from([30.0, 120.0]),
    penalty_steps=st.sampled_from(STEPS),
    head_start_s=st.sampled_from([0.0, 10.0, 120.0]),
    no_answer_pause=st.booleans(),
    no_answer_pause_s=st.none() | st.just(15.0),
    leave_empty=st.booleans(),
    join_empty=st.sampled_from([True, True, True, False]),
)


def build_spec(s: Setup) -> EngineSpec:
    """Queues ``<d>-main`` (and ``<d>-aux``); pooled agents also serve others at a penalty."""
    queue = {
        "strategy": s.strategy,
        "wrapup_s": s.wrapup_s,
        "max_length": s.max_length,
        "max_wait_s": s.max_wait_s,
        "penalty_steps": s.penalty_steps,
        "leave_empty": s.leave_empty,
        "join_empty": s.join_empty,
    }
    engine = {"no_answer_pause": s.no_answer_pause, "no_answer_pause_s": s.no_answer_pause_s}
    base = simple_spec(depts=s.depts, agents_per_dept=s.agents_per_dept, queue=queue, engine=engine)
    queues = list(base.queues)
    departments = list(base.departments)
    if s.aux_queue:
        queues += [replace(q, id=QueueId(f"{q.dept}-aux")) for q in base.queues]
        departments = [
            replace(d, queues=(QueueId(f"{d.id}-main"), QueueId(f"{d.id}-aux")))
            for d in departments
        ]
    agents = [_agent(s, a, i) for i, a in enumerate(base.agents)]
    return replace(
        base,
        departments=tuple(departments),
        queues=tuple(queues),
        agents=tuple(agents),
        # Partners a supervisor may force a call to; no rule overflows on its own here.
        overflow=OverflowSpec(partners=EXTERNALS),
        priorities=(
            PriorityClass(name="vitale", head_start_s=s.head_start_s),
            PriorityClass(name="normal", head_start_s=0.0),
        ),
    )


def _agent(s: Setup, agent: AgentSpec, index: int) -> AgentSpec:
    """Memberships and skills of one agent of the drawn platform."""
    dept = str(agent.id).split("-")[0]
    serves = {QueueId(f"{dept}-main"): 0}
    if s.aux_queue:
        serves[QueueId(f"{dept}-aux")] = index % 2
    if s.pooled and index % 2 == 1:
        other = s.depts[(s.depts.index(dept) + 1) % len(s.depts)]
        serves.setdefault(QueueId(f"{other}-main"), 1 + index % 3 // 2)
    return replace(
        agent,
        memberships=tuple(Membership(queue=q, penalty=p) for q, p in serves.items()),
        skills=ENGLISH if s.skills and index % 2 == 0 else (),
        wrapup_s=2.0 if index % 4 == 3 else None,
    )


def allowed_penalty(queue: QueueSpec, arrived_at: float, now: float) -> int:
    """The widest penalty reached at ``now``: a step is reached at its absolute due time."""
    reached = [s.max_penalty for s in queue.penalty_steps if arrived_at + s.after_s <= now]
    return max([queue.base_max_penalty, *reached])


def satisfies(held: Skills, required: Skills) -> bool:
    """Whether ``held`` meets every required skill level (an independent reading)."""
    levels = dict(held)
    return all(levels.get(name, -1) >= level for name, level in required)


@dataclass(frozen=True)
class Arrival:
    """What the test knows of a call from the event it sent."""

    call: CallId
    dept: DeptId
    queue: QueueId
    priority: str
    skills: Skills
    arrived_at: float
    seq: int

    @property
    def bucket(self) -> tuple[QueueId, str, Skills]:
        """Calls served among themselves in arrival order: same queue, priority, skills."""
        return (self.queue, self.priority, self.skills)


# -- the state machine ---------------------------------------------------------------------


class EngineMachine(RuleBasedStateMachine):
    """Drives one engine with random PBX, agent and clock events, checking it after each."""

    def __init__(self) -> None:
        super().__init__()
        self.steady = False

    @initialize(setup=setups, present=st.lists(st.booleans(), min_size=12, max_size=12))
    def build(self, setup: Setup, present: list[bool]) -> None:
        """Build the engine for a drawn platform and log in the agents drawn present."""
        self.setup = setup
        self.spec = build_spec(setup)
        self.engine = guarded(Engine(self.spec))
        self.now = START
        self.agents = sorted(self.engine.agents)
        self.queues = {q.id: q for q in self.spec.queues}
        self.depts = {d.id: d for d in self.spec.departments}
        self.members = {a.id: {m.queue: m.penalty for m in a.memberships} for a in self.spec.agents}
        self.skills = {a.id: a.skills for a in self.spec.agents}
        self.known: dict[CallId, Arrival] = {}
        self.pending: Arrival | None = None
        self.calls: dict[CallId, CallState] = {}
        self.terminal: Counter[CallId] = Counter()
        self.outstanding: dict[CallId, OfferCall] = {}
        self.overflows: dict[CallId, OverflowCall] = {}
        self.holding: dict[AgentId, CallId] = {}
        self.unserved: dict[tuple[QueueId, str, Skills], list[tuple[float, int, CallId]]] = {}
        self.offered: set[CallId] = set()
        self.routes: dict[CallId, list[RouteId]] = {}
        self.agent_state = dict.fromkeys(self.agents, AgentState.LOGGED_OUT)
        self.device_busy = dict.fromkeys(self.agents, False)
        self.next_call = 0
        self.generation = 0
        self.forgotten: set[CallId] = set()
        for agent, here in zip(self.agents, present, strict=False):
            if here:
                self.send(ev.AgentLoggedIn(agent=agent))

    # -- feeding the engine and reading its commands -------------------------------------

    def advance(self, to: float) -> None:
        """Tick every due deadline in order, as the runtime's timer does, then stand at ``to``."""
        self.steady = False
        while (due := self.engine.next_deadline()) is not None and due <= to:
            self.now = max(self.now, due)
            self.absorb(self.engine.handle(ev.Tick(), self.now))
        self.now = max(self.now, to)

    def send(self, event: ev.Event, *, rejected: bool = False) -> None:
        """Deliver a valid event now; ``rejected``: it must raise and change nothing."""
        self.advance(self.now)
        before = self.snapshot()
        try:
            out = self.engine.handle(event, self.now)
        except CoreError:
            self.pending = None
            assert rejected, f"{event} was rejected"
            assert self.snapshot() == before, f"rejected {event} changed the engine"
            return
        assert not rejected, f"{event} was accepted: {out}"
        self.absorb(out)
        self.pending = None

    def snapshot(self) -> tuple[object, ...]:
        """Everything observable about the engine, to compare before and after an event."""
        e = self.engine
        return (
            {c: (e.call_state(c), e.call(c)) for c in self.known},
            {a: e.agent(a) for a in self.agents},
            {q: (e.waiting_calls(q), e.queue_stats(q, self.now)) for q in self.queues},
            {d: e.dept_stats(d, self.now) for d in self.depts},
            e.next_deadline(),
            (e.seq, e.route_seq, e.offer_seq),
            {p: n for p, n in e.in_flight.items() if n},
        )

    def absorb(self, out: list[Command]) -> None:
        """Replay the commands on the test's own model, checking each against it."""
        for command in out:
            if isinstance(command, CallRecord):
                self.on_call_record(command)
            elif isinstance(command, AgentRecord):
                assert command.previous is self.agent_state[command.agent], command
                self.agent_state[command.agent] = command.state
            elif isinstance(command, OfferCall):
                self.on_offer(command)
            elif isinstance(command, SendToFallback):
                self.routes.setdefault(command.call, []).append(command.route)
            elif isinstance(command, OverflowCall):
                assert self.calls[command.call] is CallState.OVERFLOWING, command
                assert command.call not in self.overflows, f"second overflow of {command.call}"
                self.overflows[command.call] = command
                self.routes.setdefault(command.call, []).append(command.route)
            elif isinstance(command, MoveCall):
                assert self.calls[command.call] is CallState.WAITING, command
                assert self.known[command.call].dept == command.dept, command

    def on_call_record(self, r: CallRecord) -> None:
        """A call moved: it must move from where the model has it, and never after its end."""
        assert self.terminal[r.call] == 0, f"record after the terminal one: {r}"
        if r.previous is None:
            arrival = self.pending
            assert arrival is not None, f"unexpected arrival record {r}"
            assert arrival.call == r.call, r
            assert r.call not in self.known, f"second arrival of {r.call}"
            self.known[r.call] = arrival
            place = (arrival.arrived_at, arrival.seq, arrival.call)
            bisect.insort(self.unserved.setdefault(arrival.bucket, []), place)
        else:
            assert self.calls.get(r.call) is r.previous, (self.calls.get(r.call), r)
        if r.previous is CallState.OFFERED:
            offer = self.outstanding.pop(r.call)
            if r.state is not CallState.CONNECTED:
                del self.holding[offer.agent]
        elif r.previous is CallState.CONNECTED:
            agent = next(a for a, c in self.holding.items() if c == r.call)
            del self.holding[agent]
        elif r.previous is CallState.OVERFLOWING:
            del self.overflows[r.call]
        self.keep_the_line(r)
        self.calls[r.call] = r.state
        if r.state in TERMINAL_CALL_STATES:
            self.terminal[r.call] += 1
            del self.calls[r.call]

    def keep_the_line(self, r: CallRecord) -> None:
        """A call moved to another department waits there; one never offered keeps its line.

        A call never offered leaves its bucket's line when it stops waiting, and takes its
        arrival's place again when it waits again: in the department it was moved to, or
        back from a partner that refused it.
        """
        arrival = self.known[r.call]
        moved = r.previous is CallState.WAITING and r.state is CallState.WAITING
        if moved:
            self.known[r.call] = replace(arrival, dept=r.dept, queue=r.queue)
        if r.call in self.offered or r.previous is None:
            return
        place = (arrival.arrived_at, arrival.seq, r.call)
        if r.previous is CallState.WAITING and r.state is not CallState.OFFERED:
            self.unserved[arrival.bucket].remove(place)  # moved, overflowing or ended unserved
        if r.state is CallState.WAITING:
            bisect.insort(self.unserved.setdefault(self.known[r.call].bucket, []), place)

    def on_offer(self, o: OfferCall) -> None:
        """An offer: one at a time per call and per agent, to an eligible agent, FIFO."""
        assert o.call not in self.outstanding, f"second outstanding offer for {o.call}"
        assert o.agent not in self.holding, f"{o.agent} already holds {self.holding[o.agent]}"
        assert self.calls[o.call] is CallState.OFFERED, o
        arrival = self.known[o.call]
        queue = self.queues[arrival.queue]
        penalty = self.members[o.agent].get(arrival.queue)
        assert penalty is not None, f"{o.agent} does not serve {arrival.queue}"
        assert penalty <= allowed_penalty(queue, arrival.arrived_at, self.now), o
        assert satisfies(self.skills[o.agent], arrival.skills), o
        assert not self.device_busy[o.agent], f"{o.agent}'s phone is busy"
        self.outstanding[o.call] = o
        self.holding[o.agent] = o.call
        self.routes.setdefault(o.call, []).append(o.route)
        if o.call not in self.offered:
            first = self.unserved[arrival.bucket].pop(0)
            assert first[2] == o.call, f"{o.call} served before {first[2]} of the same bucket"
            self.offered.add(o.call)

    # -- picking subjects ----------------------------------------------------------------

    def live(self, *states: CallState) -> list[CallId]:
        """Live calls in the given states, in a stable order."""
        return sorted(c for c, s in self.calls.items() if s in states)

    # -- rules: calls --------------------------------------------------------------------

    @rule(
        dept=st.integers(0, 2),
        aux=st.booleans(),
        priority=st.sampled_from(["vitale", "normal", "normal"]),
        english=st.booleans(),
        enqueued_ago=st.sampled_from([None, None, 0.0, 4.0, 45.0]),
    )
    def call_arrives(
        self, dept: int, aux: bool, priority: str, english: bool, enqueued_ago: float | None
    ) -> None:
        """A caller enters a department's waiting loop."""
        self.advance(self.now)
        d = DeptId(self.setup.depts[dept % len(self.setup.depts)])
        queue = self.depts[d].queues[-1 if aux else 0]
        skills = ENGLISH if english and self.setup.skills else ()
        self.next_call += 1
        cid = CallId(f"pbx1/{self.next_call}")
        enqueued = None if enqueued_ago is None else self.now - enqueued_ago
        arrived = self.now if enqueued is None else enqueued
        self.pending = Arrival(cid, d, queue, priority, skills, arrived, self.next_call)
        self.send(
            ev.CallArrived(
                call=cid,
                dept=d,
                queue=queue if aux else None,
                priority=priority,
                skills=skills,
                enqueued_at=enqueued,
            )
        )

    @rule(seconds=st.sampled_from([0.1, 0.5, 0.7, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0]))
    def time_passes(self, seconds: float) -> None:
        """The clock moves on; every deadline due on the way is ticked in order."""
        self.advance(self.now + seconds)

    @precondition(lambda self: bool(self.outstanding))
    @rule(data=st.data())
    def agent_answers(self, data: st.DataObject) -> None:
        """The rung agent picks up."""
        offer = self.outstanding[data.draw(st.sampled_from(sorted(self.outstanding)))]
        self.send(ev.CallAnswered(call=offer.call, route=offer.route))

    @precondition(lambda self: bool(self.outstanding))
    @rule(data=st.data())
    def route_confirmed(self, data: st.DataObject) -> None:
        """The dispatch context took the call and rings the agent."""
        offer = self.outstanding[data.draw(st.sampled_from(sorted(self.outstanding)))]
        self.send(ev.RouteConfirmed(call=offer.call, route=offer.route))

    @precondition(lambda self: bool(self.outstanding))
    @rule(data=st.data(), cause=st.sampled_from(CAUSES))
    def route_fails(self, data: st.DataObject, cause: ev.RouteFailure) -> None:
        """The route did not reach the agent; the caller is back in the waiting loop."""
        offer = self.outstanding[data.draw(st.sampled_from(sorted(self.outstanding)))]
        self.send(ev.RouteFailed(call=offer.call, route=offer.route, cause=cause))

    @precondition(lambda self: bool(self.calls))
    @rule(data=st.data())
    def caller_hangs_up(self, data: st.DataObject) -> None:
        """A caller hangs up, waiting, ringing or talking."""
        self.send(ev.CallHungUp(call=data.draw(st.sampled_from(sorted(self.calls)))))

    @precondition(
        lambda self: bool(self.live(CallState.WAITING, CallState.OFFERED, CallState.OVERFLOWING))
    )
    @rule(data=st.data())
    def dialplan_falls_back(self, data: st.DataObject) -> None:
        """The dialplan's own fallback takes a caller who is not yet talking."""
        calls = self.live(CallState.WAITING, CallState.OFFERED, CallState.OVERFLOWING)
        self.send(ev.CallFellBack(call=data.draw(st.sampled_from(calls))))

    # -- rules: overflow forced by a supervisor ------------------------------------------

    @precondition(lambda self: bool(self.calls))
    @rule(data=st.data(), sensible=st.sampled_from([True, True, True, False]))
    def supervisor_forces_overflow(self, data: st.DataObject, sensible: bool) -> None:
        """A supervisor forces a call to a partner: taken if it waits and the partner is one.

        Any other choice (a call ringing, talking or overflowing, its own department, a
        partner nobody declared) is refused and changes nothing.
        """
        self.advance(self.now)  # a deadline due now may end or offer a call first
        if not self.calls:
            return
        waiting = self.live(CallState.WAITING)
        call = data.draw(st.sampled_from(waiting if sensible and waiting else sorted(self.calls)))
        own = self.known[call].dept
        partners = [*self.setup.depts, *(p.id for p in EXTERNALS)]
        if sensible:
            partners.remove(own)
        else:
            partners.append("samu-99")
        partner = data.draw(st.sampled_from(partners))
        valid = self.calls[call] is CallState.WAITING and partner not in (own, "samu-99")
        self.send(ev.OverflowForced(call=call, partner=partner, by="sup"), rejected=not valid)

    @precondition(lambda self: bool(self.overflows))
    @rule(data=st.data(), taken=st.booleans(), cause=st.sampled_from(CAUSES))
    def partner_answers_the_overflow(
        self, data: st.DataObject, taken: bool, cause: ev.RouteFailure
    ) -> None:
        """The partner takes the call, or refuses it and the caller is back at their place."""
        sent = self.overflows[data.draw(st.sampled_from(sorted(self.overflows)))]
        if taken:
            self.send(ev.OverflowConfirmed(call=sent.call, route=sent.route))
        else:
            self.send(ev.OverflowFailed(call=sent.call, route=sent.route, cause=cause))

    # -- rules: agents -------------------------------------------------------------------

    @rule(
        data=st.data(),
        action=st.sampled_from(["login", "login", "unpause", "logout", "pause", "device"]),
    )
    def agent_acts(self, data: st.DataObject, action: str) -> None:
        """An agent logs in or out, pauses or resumes, or their phone turns busy or free.

        Logout and pause on a call take effect at its end; a pause while logged out is
        refused and changes nothing.
        """
        agent = data.draw(st.sampled_from(self.agents))
        if action == "login":
            self.send(ev.AgentLoggedIn(agent=agent))
        elif action == "unpause":
            self.send(ev.AgentUnpaused(agent=agent))
        elif action == "logout":
            self.send(ev.AgentLoggedOut(agent=agent))
        elif action == "pause":
            logged_out = self.agent_state[agent] is AgentState.LOGGED_OUT
            self.send(ev.AgentPaused(agent=agent, reason="pause"), rejected=logged_out)
        else:
            self.device_busy[agent] = not self.device_busy[agent]
            self.send(ev.AgentDeviceChanged(agent=agent, busy=self.device_busy[agent]))

    # -- rules: a restart from the hot state ---------------------------------------------

    @rule()
    def restart_from_hot_state(self) -> None:
        """A fresh engine restored from the hot-state documents carries on as the old one."""
        self.advance(self.now)
        old = self.engine
        calls = [d for c in sorted(old.calls) if (d := old.call_doc(c)) is not None]
        agents = [old.agent_doc(a) for a in self.agents]
        self.generation += 1
        new = guarded(Engine(self.spec, route_prefix=f"g{self.generation}-"))
        done = new.restore(json.loads(json.dumps(calls)), json.loads(json.dumps(agents)), self.now)
        assert done.skipped == [], done
        assert done.commands == [], done
        assert (done.calls, done.agents) == (len(calls), len(agents))
        assert sorted(new.live_calls(), key=str) == sorted(old.live_calls(), key=str)
        for q in self.queues:
            assert new.waiting_calls(q) == old.waiting_calls(q), q
        for a in self.agents:
            assert new.agent(a) == old.agent(a), a
        self.forgotten |= set(self.terminal)
        self.engine = new

    # -- rules: events the engine must refuse or ignore ----------------------------------

    @rule(data=st.data(), kind=st.sampled_from(range(10)))
    def bad_event_changes_nothing(self, data: st.DataObject, kind: int) -> None:
        """A stale, late, duplicate or unknown event raises or is ignored, changing nothing."""
        self.advance(self.now)
        event = self.bad_event(data, kind)
        before = self.snapshot()
        try:
            out = self.engine.handle(event, self.now)
        except CoreError:
            out = []
        assert out == [], f"{event} produced {out}"
        assert self.snapshot() == before, f"{event} changed the engine"

    def bad_event(self, data: st.DataObject, kind: int) -> ev.Event:
        """One event of the given kind, about a subject drawn from the model."""
        ghost = CallId("pbx9/ghost")
        stale = [(c, r) for c, rs in self.routes.items() for r in rs if self.is_stale(c, r)]
        ended = sorted(set(self.terminal) - self.forgotten)
        if kind == 0 and self.outstanding:
            call = data.draw(st.sampled_from(sorted(self.outstanding)))
            older = [r for r in self.routes[call] if self.is_stale(call, r)]
            route = data.draw(st.sampled_from([RouteId("r0"), *older]))
            return ev.CallAnswered(call=call, route=route)
        if kind in (0, 8) and stale:
            call, route = data.draw(st.sampled_from(stale))
            replies: list[ev.Event] = [
                ev.CallAnswered(call=call, route=route),
                ev.RouteConfirmed(call=call, route=route),
                ev.RouteFailed(call=call, route=route, cause=ev.RouteFailure.BUSY),
                ev.OverflowConfirmed(call=call, route=route),
                ev.OverflowFailed(call=call, route=route, cause=ev.RouteFailure.BUSY),
            ]
            return data.draw(st.sampled_from(replies))
        if kind == 1 and ended:
            call = data.draw(st.sampled_from(ended))
            arrival = self.known[call]
            late: list[ev.Event] = [ev.CallHungUp(call=call), ev.CallFellBack(call=call)]
            late.append(ev.CallArrived(call=call, dept=arrival.dept))
            return data.draw(st.sampled_from(late))
        if kind == 2 and self.calls:
            call = data.draw(st.sampled_from(sorted(self.calls)))
            return ev.CallArrived(call=call, dept=self.known[call].dept)
        if kind == 3 and self.live(CallState.CONNECTED):
            return ev.CallFellBack(call=data.draw(st.sampled_from(self.live(CallState.CONNECTED))))
        if kind == 4:
            return ev.AgentPaused(agent=AgentId("nobody"), reason="pause")
        if kind == 5:
            return ev.CallArrived(call=CallId("pbx9/new"), dept=DeptId("2A"))
        if kind == 6:
            return ev.CallArrived(call=CallId("pbx9/new"), dept=DeptId("75"), queue=QueueId("x"))
        if kind == 7 and self.live(CallState.WAITING):
            call = data.draw(st.sampled_from(self.live(CallState.WAITING)))
            return ev.CallAnswered(call=call, route=RouteId("r0"))
        unknown: list[ev.Event] = [
            ev.CallHungUp(call=ghost),
            ev.CallAnswered(call=ghost, route=RouteId("r1")),
            ev.RouteFailed(call=ghost, route=RouteId("r1"), cause=ev.RouteFailure.BUSY),
            ev.CallFellBack(call=ghost),
        ]
        return data.draw(st.sampled_from(unknown))

    def is_stale(self, call: CallId, route: RouteId) -> bool:
        """A route that is not the call's current offer nor overflow (it may have ended)."""
        current = self.outstanding.get(call) or self.overflows.get(call)
        return current is None or current.route != route

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        """Every invariant, checked after the initial build and after each step."""
        if not hasattr(self, "engine"):
            return
        self.model_matches_engine()
        self.one_call_per_agent_and_one_agent_per_call()
        self.overflows_are_charged_to_their_partner()
        self.statistics_count_what_is()
        self.no_free_agent_left_beside_a_waiting_call()
        self.steady = True

    def model_matches_engine(self) -> None:
        """Call and agent states replayed from the records are the engine's states."""
        for call in self.known:
            expected = self.calls.get(call)
            state = self.engine.call_state(call)
            assert expected is None or state is expected, (call, state, expected)
            forgotten = call in self.forgotten and state is None  # ended before a restart
            assert expected is not None or forgotten or state in TERMINAL_CALL_STATES, call
            assert self.terminal[call] == (0 if expected else 1), call
        for agent in self.agents:
            assert self.engine.agent(agent).state is self.agent_state[agent], agent

    def one_call_per_agent_and_one_agent_per_call(self) -> None:
        """An agent rings or talks with one call at most, and that call with this agent only."""
        seen: dict[AgentId, CallId] = {}
        for cid, call in self.engine.calls.items():
            if call.state in (CallState.OFFERED, CallState.CONNECTED):
                assert call.agent is not None, cid
                assert call.agent not in seen, f"{call.agent} holds {seen[call.agent]} and {cid}"
                seen[call.agent] = cid
        assert seen == self.holding
        for aid in self.agents:
            view = self.engine.agent(aid)
            busy = view.state in (AgentState.OFFERED, AgentState.ON_CALL)
            assert view.call == (seen[aid] if busy else None), view
            assert busy == (aid in seen), view

    def overflows_are_charged_to_their_partner(self) -> None:
        """Every call on its way to a partner, and no other, is charged to that partner."""
        expected = Counter(o.partner for o in self.overflows.values())
        assert {p: n for p, n in self.engine.in_flight.items() if n} == dict(expected)
        for cid, sent in self.overflows.items():
            assert self.engine.overflowing.get(cid) == sent.partner, cid

    def statistics_count_what_is(self) -> None:
        """Agent counts by state and waiting counts in the statistics match the live records."""
        states = {a: self.engine.agent(a).state for a in self.agents}
        waiting = Counter(self.known[c].queue for c in self.live(CallState.WAITING))
        for q in self.queues:
            stats = self.engine.queue_stats(q, self.now)
            expected = Counter(states[a] for a in self.agents if q in self.members[a])
            assert {s: n for s, n in stats.agents_by_state.items() if n} == dict(expected), q
            assert stats.waiting == waiting[q] == len(self.engine.waiting_calls(q)), q
        for d, dept in self.depts.items():
            stats = self.engine.dept_stats(d, self.now)
            serving = [a for a in self.agents if set(self.members[a]) & set(dept.queues)]
            expected = Counter(states[a] for a in serving)
            assert {s: n for s, n in stats.agents_by_state.items() if n} == dict(expected), d
            assert stats.waiting == sum(waiting[q] for q in dept.queues), d

    def no_free_agent_left_beside_a_waiting_call(self) -> None:
        """After every event and tick, no waiting call has a routable agent allowed to take it."""
        free = [a for a in self.agents if _routable(self.engine, a)]
        for cid in self.live(CallState.WAITING):
            arrival = self.known[cid]
            allowed = allowed_penalty(self.queues[arrival.queue], arrival.arrived_at, self.now)
            for a in free:
                penalty = self.members[a].get(arrival.queue)
                eligible = penalty is not None and penalty <= allowed
                if eligible and satisfies(self.skills[a], arrival.skills):
                    pytest.fail(f"{cid} waits while {a} (penalty {penalty}) is free")

    def teardown(self) -> None:
        """Hang every caller up: each call then ends exactly once and every agent is free."""
        if not self.steady or not hasattr(self, "engine"):
            return
        for cid in list(self.calls):
            if cid in self.calls:
                self.send(ev.CallHungUp(call=cid))
        self.advance(self.now + 3600.0)
        assert not self.calls
        assert not self.outstanding
        assert not self.overflows
        assert not self.holding
        assert set(self.terminal) == set(self.known)
        assert all(n == 1 for n in self.terminal.values())


def _routable(engine: Engine, agent: AgentId) -> bool:
    view = engine.agent(agent)
    return view.state is AgentState.AVAILABLE and not view.device_busy and not view.backoff


def test_engine_keeps_its_invariants_under_any_event_sequence() -> None:
    """Random PBX, agent, clock and bogus events never break the engine's invariants."""
    run_state_machine_as_test(EngineMachine, settings=settings(stateful_step_count=100))


# -- priority ageing -----------------------------------------------------------------------


@given(
    head_start=st.integers(5, 180),
    gap=st.sampled_from([1.0, 2.0, 3.0, 5.0]),
    talk=st.integers(1, 20),
    backlog=st.integers(0, 6),
)
def test_ageing_serves_a_low_priority_call_under_sustained_high_priority_load(
    head_start: int, gap: float, talk: int, backlog: int
) -> None:
    """A normal call is offered once the vital calls that arrived within its head start are."""
    # The agent spends ``talk + gap`` s per call: slower than one vital call every ``gap`` s.
    handle = 1.0 + talk + gap
    spec = replace(
        simple_spec(agents_per_dept=1),
        priorities=(
            PriorityClass(name="vitale", head_start_s=float(head_start)),
            PriorityClass(name="normal", head_start_s=0.0),
        ),
    )
    engine = guarded(Engine(spec))
    sim = _OneAgentDesk(engine, answer_after=1.0, talk=handle - 1.0)
    sim.send(ev.AgentLoggedIn(agent=AgentId("75-a0")))
    for _ in range(backlog + 1):
        sim.vital_arrives()
        sim.run_until(sim.now + gap)
    low_at = sim.now
    sim.send(ev.CallArrived(call=CallId("pbx1/low"), dept=DeptId("75"), priority="normal"))
    ahead = backlog + 1 + math.ceil(head_start / gap)
    deadline = low_at + (ahead + 1) * handle
    while CallId("pbx1/low") not in sim.offered_at and sim.now <= deadline:
        sim.vital_arrives()
        sim.run_until(sim.now + gap)
    assert CallId("pbx1/low") in sim.offered_at, f"not offered within {deadline - low_at} s"
    served_low_at = sim.offered_at[CallId("pbx1/low")]
    overtaking = [
        c
        for c, at in sim.offered_at.items()
        if at <= served_low_at and sim.arrived_at.get(c, 0.0) >= low_at + head_start
    ]
    assert not overtaking, f"vital calls that arrived after the head start went first: {overtaking}"


class _OneAgentDesk:
    """One agent who answers every ring after ``answer_after`` and talks ``talk`` seconds."""

    def __init__(self, engine: Engine, *, answer_after: float, talk: float) -> None:
        self.engine = engine
        self.now = START
        self.answer_after = answer_after
        self.talk = talk
        self.agenda: list[tuple[float, int, ev.Event]] = []
        self.offered_at: dict[CallId, float] = {}
        self.arrived_at: dict[CallId, float] = {}
        self.count = 0

    def send(self, event: ev.Event) -> None:
        """Deliver an event now and schedule the agent's reaction to any offer."""
        for command in self.engine.handle(event, self.now):
            if isinstance(command, OfferCall):
                self.offered_at[command.call] = self.now
                answered = ev.CallAnswered(call=command.call, route=command.route)
                self.at(self.now + self.answer_after, answered)
                self.at(self.now + self.talk, ev.CallHungUp(call=command.call))

    def at(self, when: float, event: ev.Event) -> None:
        """Schedule an event."""
        self.count += 1
        bisect.insort(self.agenda, (when, self.count, event), key=lambda x: (x[0], x[1]))

    def vital_arrives(self) -> None:
        """One more vital call."""
        self.count += 1
        cid = CallId(f"pbx1/v{self.count}")
        self.arrived_at[cid] = self.now
        self.send(ev.CallArrived(call=cid, dept=DeptId("75"), priority="vitale"))

    def run_until(self, to: float) -> None:
        """Play the agenda and the engine's deadlines up to ``to``."""
        while True:
            due = self.engine.next_deadline()
            agenda = self.agenda[0][0] if self.agenda else None
            nxt = min((t for t in (due, agenda) if t is not None), default=None)
            if nxt is None or nxt > to:
                break
            self.now = max(self.now, nxt)
            if agenda is not None and agenda <= self.now:
                self.send(self.agenda.pop(0)[2])
            else:
                self.send(ev.Tick())
        self.now = to


# -- penalty steps at awkward instants ------------------------------------------------------


@given(
    arrived=st.floats(min_value=1e6, max_value=4e9, allow_nan=False),
    after=st.floats(min_value=0.001, max_value=3600.0, allow_nan=False),
)
def test_penalty_step_widens_once_at_any_arrival_instant_and_delay(
    arrived: float, after: float
) -> None:
    """A penalty step fires once at its due time and reaches the wider agent, never spinning."""
    spec = EngineSpec(
        departments=(DepartmentSpec(id=DeptId("75"), name="Paris", queues=(QueueId("q"),)),),
        queues=(
            QueueSpec(
                id=QueueId("q"),
                dept=DeptId("75"),
                penalty_steps=(PenaltyStep(after_s=after, max_penalty=1),),
            ),
        ),
        agents=(
            AgentSpec(
                id=AgentId("far"),
                name="far",
                endpoint="PJSIP/far",
                memberships=(Membership(queue=QueueId("q"), penalty=1),),
            ),
        ),
    )
    engine = guarded(Engine(spec))
    engine.handle(ev.AgentLoggedIn(agent=AgentId("far")), arrived)
    out = engine.handle(ev.CallArrived(call=CallId("pbx1/1"), dept=DeptId("75")), arrived)
    assert not [c for c in out if isinstance(c, OfferCall)]
    due = engine.next_deadline()
    assert due is not None
    out = engine.handle(ev.Tick(), due)
    assert [c.agent for c in out if isinstance(c, OfferCall)] == [AgentId("far")]
