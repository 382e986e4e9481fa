"""Callers, agents' phones and partner SAMU: they obey the engine and never contradict its tables.

The world knows the truth of every call (waiting, ringing, talking, overflowing, gone) and
tells the engine only what a PBX would: arrivals, confirmations, answers, ring-outs, partner
answers and hang-ups. A caller hangs up when their patience runs out whatever the engine
thinks; what was about to happen to the call (an answer, a ring-out) is then cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import Enum

from acd.core import events as ev
from acd.core.commands import (
    AgentRecord,
    CallRecord,
    Command,
    OfferCall,
    OverflowCall,
    SendToFallback,
    VerifyRoute,
)
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId, DeptId, RouteId
from acd.core.spec import EngineSpec
from acd.core.states import AgentState
from acd.sim.agenda import Agenda, Happening, Kind
from acd.sim.outcome import Tally
from acd.sim.traffic import Behaviour, Streams, Surge, caller_number, next_arrival, pick

NO_ANSWER_PAUSE = "no-answer"
"""The pause reason the engine gives an agent who let an offer ring out."""


class Phase(Enum):
    """Where a caller really is."""

    WAITING = "waiting"
    RINGING = "ringing"
    TALKING = "talking"
    OVERFLOWING = "overflowing"


@dataclass(slots=True, kw_only=True)
class Caller:
    """A caller still on the line, as the world knows them."""

    id: CallId
    dept: DeptId
    """The department called (outcomes are counted there, wherever the call is taken)."""
    arrived_at: float
    talk_s: float
    phase: Phase = Phase.WAITING
    token: int = 0
    """Bumped when a ring or an overflow ends: what was planned for it becomes stale."""
    route: RouteId | None = None
    moved: bool = False
    """Entraide moved the call to another department of the platform."""


class Actors:
    """The people and phones around one engine; :class:`~acd.sim.world.Simulation` runs them."""

    def __init__(
        self,
        spec: EngineSpec,
        *,
        rates: Mapping[DeptId, float],
        seed: int,
        start_at: float,
        duration_s: float,
        behaviour: Behaviour,
        surges: tuple[Surge, ...],
    ) -> None:
        self.spec = spec
        self.engine = Engine(spec, route_prefix="sim-r")
        self.rates = dict(rates)
        self.seed = seed
        self.start_at = start_at
        self.duration_s = duration_s
        self.end_at = start_at + duration_s
        self.behaviour = behaviour
        self.surges = surges
        self.now = start_at
        self.events_handled = 0
        self.agenda = Agenda()
        self.streams = Streams(seed)
        self.live: dict[CallId, Caller] = {}
        self.tally = {d.id: Tally() for d in spec.departments}
        self._epoch: dict[AgentId, int] = {}
        self._queue_shares = {
            d.id: tuple((q, s) for q, s in behaviour.queue_shares if q in d.queues)
            for d in spec.departments
        }
        self._calls = 0
        self.happen: dict[Kind, Callable[[Happening], None]] = {
            Kind.LOGIN: self._login,
            Kind.ARRIVAL: self._arrival,
            Kind.PATIENCE_END: self._patience_end,
            Kind.CONFIRM: self._confirm,
            Kind.ANSWER: self._answer,
            Kind.RING_OUT: self._ring_out,
            Kind.TALK_END: self._talk_end,
            Kind.VERIFY: self._verify,
            Kind.PARTNER_TAKES: self._partner_takes,
            Kind.PARTNER_REFUSES: self._partner_refuses,
            Kind.PARTNER_REPORT: self._partner_report,
            Kind.BREAK_START: self._break_start,
            Kind.BREAK_END: self._break_end,
            Kind.BACK: self._back,
        }

    def start(self, agents: Collection[AgentId] | None) -> None:
        """Plan the logins, the first arrivals, breaks and partner reports."""
        chosen = {a.id for a in self.spec.agents} if agents is None else set(agents)
        t0 = self.start_at
        for a in self.spec.agents:
            if a.id in chosen:
                self._epoch[a.id] = 0
                self.agenda.add(t0, Kind.LOGIN, a.id)
                if self.behaviour.break_every is not None:
                    gap = self.behaviour.break_every.draw(self.streams("breaks", a.id))
                    self.agenda.add(t0 + gap, Kind.BREAK_START, a.id)
        for dept in self.rates:
            self._schedule_arrival(dept)
        if self.behaviour.partners.report_every_s is not None:
            for partner in self.spec.overflow.partners:
                self.agenda.add(t0, Kind.PARTNER_REPORT, partner.id)

    def send(self, event: ev.Event) -> None:
        """Tell the engine, now, and carry out what it decides."""
        self.events_handled += 1
        for command in self.engine.handle(event, self.now):
            self._obey(command)

    # -- what the engine asks ----------------------------------------------------------

    def _obey(self, command: Command) -> None:
        if isinstance(command, OfferCall):
            self._on_offer(command)
        elif isinstance(command, OverflowCall):
            self._on_overflow(command)
        elif isinstance(command, SendToFallback):
            caller = self.live.pop(command.call, None)
            if caller is not None:
                self.tally[caller.dept].fallback += 1
        elif isinstance(command, VerifyRoute):
            at = self.now + self.behaviour.redirect_latency_s
            self.agenda.add(at, Kind.VERIFY, command.call, route=command.route)
        elif isinstance(command, CallRecord):
            self._on_call_record(command)
        elif isinstance(command, AgentRecord):
            self._on_agent_record(command)

    def _waiting(self, call: CallId, what: str) -> Caller:
        caller = self.live.get(call)
        if caller is None or caller.phase is not Phase.WAITING:
            raise AssertionError(f"the engine's {what} names {call}, which is not waiting")
        return caller

    def _on_offer(self, c: OfferCall) -> None:
        caller = self._waiting(c.call, "offer")
        b = self.behaviour
        caller.phase = Phase.RINGING
        caller.route = c.route
        caller.token += 1
        rng = self.streams("phone", c.agent)
        rings_out = rng.random() < b.no_answer_share
        delay = b.redirect_latency_s + rng.uniform(*b.ring_delay_s)
        timeout = b.redirect_latency_s + c.ring_timeout_s
        self.agenda.add(self.now + b.redirect_latency_s, Kind.CONFIRM, c.call, caller.token)
        if rings_out or delay >= timeout:
            self.agenda.add(self.now + timeout, Kind.RING_OUT, c.call, caller.token)
        else:
            self.agenda.add(self.now + delay, Kind.ANSWER, c.call, caller.token)

    def _on_overflow(self, c: OverflowCall) -> None:
        caller = self._waiting(c.call, "overflow")
        caller.phase = Phase.OVERFLOWING
        caller.route = c.route
        caller.token += 1
        partners = self.behaviour.partners
        refuses = self.streams("partner", c.partner).random() < partners.refusal_share
        kind = Kind.PARTNER_REFUSES if refuses else Kind.PARTNER_TAKES
        self.agenda.add(self.now + partners.answer_delay_s, kind, c.call, caller.token)

    def _on_call_record(self, c: CallRecord) -> None:
        caller = self.live.get(c.call)
        if caller is not None and c.dept != caller.dept and not caller.moved:
            caller.moved = True
            self.tally[caller.dept].moved += 1

    def _on_agent_record(self, c: AgentRecord) -> None:
        self._epoch[c.agent] = epoch = self._epoch.get(c.agent, 0) + 1
        missed = c.state is AgentState.PAUSED and c.pause_reason == NO_ANSWER_PAUSE
        if missed and self.spec.no_answer_pause_s is None:
            back = self.now + self.behaviour.back_after_no_answer_s
            self.agenda.add(back, Kind.BACK, c.agent, epoch)

    # -- callers -----------------------------------------------------------------------

    def _schedule_arrival(self, dept: DeptId) -> None:
        after = next_arrival(
            self.streams("arrivals", dept),
            base=self.rates[dept],
            dept=dept,
            after=self.now - self.start_at,
            until=self.duration_s,
            surges=self.surges,
        )
        if after is not None:
            self.agenda.add(self.start_at + after, Kind.ARRIVAL, dept)

    def _arrival(self, h: Happening) -> None:
        dept = DeptId(h.subject)
        b = self.behaviour
        rng = self.streams("callers", dept)
        # Every caller draws the same numbers in the same order, so streams stay aligned.
        priority = pick(rng, b.priority_shares)
        queue = pick(rng, self._queue_shares[dept])
        patience = b.patience.draw(rng)
        talk = b.talk.draw(rng)
        number = caller_number(rng)
        self._calls += 1
        cid = CallId(f"sim/{self._calls}")
        self.live[cid] = Caller(id=cid, dept=dept, arrived_at=self.now, talk_s=talk)
        self.tally[dept].arrived += 1
        self.agenda.add(self.now + patience, Kind.PATIENCE_END, cid)
        arrived = ev.CallArrived(call=cid, dept=dept, queue=queue, priority=priority, caller=number)
        self.send(arrived)
        self._schedule_arrival(dept)

    def _patience_end(self, h: Happening) -> None:
        caller = self.live.get(CallId(h.subject))
        if caller is None or caller.phase is Phase.TALKING:
            return
        del self.live[caller.id]
        self.tally[caller.dept].abandoned += 1
        self.send(ev.CallHungUp(call=caller.id))

    def _current(self, h: Happening, phase: Phase) -> tuple[Caller, RouteId] | None:
        """The caller if still in ``phase`` as planned, with the route; else ``None``."""
        caller = self.live.get(CallId(h.subject))
        if caller is None or caller.phase is not phase or caller.token != h.token:
            return None
        assert caller.route is not None  # a ringing or overflowing caller has its route
        return caller, caller.route

    def _confirm(self, h: Happening) -> None:
        ringing = self._current(h, Phase.RINGING)
        if ringing is not None:
            caller, route = ringing
            self.send(ev.RouteConfirmed(call=caller.id, route=route))

    def _answer(self, h: Happening) -> None:
        ringing = self._current(h, Phase.RINGING)
        if ringing is None:
            return
        caller, route = ringing
        caller.phase = Phase.TALKING
        caller.token += 1
        tally = self.tally[caller.dept]
        tally.answered += 1
        if self.now - caller.arrived_at <= self.spec.sl_target_s:
            tally.within += 1
        self.agenda.add(self.now + caller.talk_s, Kind.TALK_END, caller.id)
        self.send(ev.CallAnswered(call=caller.id, route=route))

    def _ring_out(self, h: Happening) -> None:
        ringing = self._current(h, Phase.RINGING)
        if ringing is None:
            return
        caller, route = ringing
        self._back_to_queue(caller)
        self.send(ev.RouteFailed(call=caller.id, route=route, cause=ev.RouteFailure.NO_ANSWER))

    def _back_to_queue(self, caller: Caller) -> None:
        caller.phase = Phase.WAITING
        caller.route = None
        caller.token += 1

    def _talk_end(self, h: Happening) -> None:
        caller = self.live.pop(CallId(h.subject), None)
        if caller is not None:
            self.send(ev.CallHungUp(call=caller.id))

    def _verify(self, h: Happening) -> None:
        caller = self.live.get(CallId(h.subject))
        route = h.route
        if caller is None or route is None or caller.phase is Phase.OVERFLOWING:
            return  # gone (the engine was told then), or the partner is still answering
        cid = caller.id
        if caller.route != route:
            self.send(ev.RouteFailed(call=cid, route=route, cause=ev.RouteFailure.NO_ANSWER))
        elif caller.phase is Phase.TALKING:
            self.send(ev.CallAnswered(call=cid, route=route))
        else:
            self.send(ev.RouteConfirmed(call=cid, route=route))

    # -- partners ----------------------------------------------------------------------

    def _partner_takes(self, h: Happening) -> None:
        overflowing = self._current(h, Phase.OVERFLOWING)
        if overflowing is None:
            return
        caller, route = overflowing
        del self.live[caller.id]
        self.tally[caller.dept].overflowed += 1
        self.send(ev.OverflowConfirmed(call=caller.id, route=route))

    def _partner_refuses(self, h: Happening) -> None:
        overflowing = self._current(h, Phase.OVERFLOWING)
        if overflowing is None:
            return
        caller, route = overflowing
        self._back_to_queue(caller)  # the engine puts the call back at its place
        cause = ev.RouteFailure.CONGESTION
        self.send(ev.OverflowFailed(call=caller.id, route=route, cause=cause))

    def _partner_report(self, h: Happening) -> None:
        p = self.behaviour.partners
        if p.report_every_s is None or self.now >= self.end_at:
            return
        self.agenda.add(self.now + p.report_every_s, Kind.PARTNER_REPORT, h.subject)
        load = ev.PartnerLoadReported(
            partner=h.subject,
            waiting=p.waiting,
            available_agents=p.available_agents,
            estimated_wait_s=p.estimated_wait_s,
            at=self.now,
        )
        self.send(load)

    # -- agents ------------------------------------------------------------------------

    def _login(self, h: Happening) -> None:
        self.send(ev.AgentLoggedIn(agent=AgentId(h.subject)))

    def _break_start(self, h: Happening) -> None:
        if self.now >= self.end_at:
            return
        aid = AgentId(h.subject)
        self._epoch[aid] += 1
        length = self.behaviour.break_length.draw(self.streams("breaks", aid))
        self.agenda.add(self.now + length, Kind.BREAK_END, aid)
        self.send(ev.AgentPaused(agent=aid, reason="break"))

    def _break_end(self, h: Happening) -> None:
        aid = AgentId(h.subject)
        self._epoch[aid] += 1
        every = self.behaviour.break_every
        if every is not None:
            gap = every.draw(self.streams("breaks", aid))
            self.agenda.add(self.now + gap, Kind.BREAK_START, aid)
        self.send(ev.AgentUnpaused(agent=aid))

    def _back(self, h: Happening) -> None:
        aid = AgentId(h.subject)
        if self._epoch.get(aid) == h.token:
            self.send(ev.AgentUnpaused(agent=aid))
