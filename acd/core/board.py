"""The engine's live state and the moves on it: transitions, matching, offers, deadlines."""

from __future__ import annotations

from acd.core.commands import AgentRecord, CallRecord, Command, OfferCall, Reason, SendToFallback
from acd.core.errors import InvalidSpec, UnknownQueue
from acd.core.ids import AgentId, CallId, DeptId, QueueId, RouteId
from acd.core.model import Agent, Call, satisfies
from acd.core.routing import AgentPool, WaitingQueue
from acd.core.spec import EngineSpec, QueueSpec, Skills
from acd.core.states import (
    AGENT_TRANSITIONS,
    CALL_TRANSITIONS,
    TERMINAL_CALL_STATES,
    AgentState,
    CallState,
    check_agent_move,
    check_call_move,
)
from acd.core.stats import Counters, QueueStats, snapshot
from acd.core.timers import Deadlines, Due

RECENT_TERMINAL_CALLS = 100_000
"""How many ended calls are remembered, so that late or replayed events are recognised."""

Out = list[Command]


class Board:
    """Live calls, agents, indexes and counters; every change goes through a table check."""

    def __init__(self, spec: EngineSpec, *, route_prefix: str = "r") -> None:
        self.spec = spec
        self.route_prefix = route_prefix
        self.depts = {d.id: d for d in spec.departments}
        self.priorities = {p.name: p for p in spec.priorities}
        self.eval_token = 0
        """Token of the overflow evaluation deadline in force (see Entraide)."""
        self.queues: dict[QueueId, QueueSpec] = {q.id: q for q in spec.queues}
        _check_spec(spec, self.queues)
        self.calls: dict[CallId, Call] = {}
        self.overflowing: dict[CallId, str] = {}
        """Calls on their way to an external partner, and which one."""
        self.in_flight: dict[str, int] = {}
        """How many calls each external partner is being sent now (charged in look-ahead)."""
        self.ended: dict[CallId, CallState] = {}
        self.agents: dict[AgentId, Agent] = {}
        agent_depts: dict[AgentId, tuple[DeptId, ...]] = {}
        self.members: dict[QueueId, list[AgentId]] = {q: [] for q in self.queues}
        for order, a in enumerate(spec.agents):
            penalties = {m.queue: m.penalty for m in a.memberships}
            agent = Agent(spec=a, id=a.id, order=order, penalties=penalties)
            self.agents[a.id] = agent
            for q in agent.penalties:
                self.members[q].append(a.id)
            agent_depts[a.id] = tuple(sorted({self.queues[q].dept for q in agent.penalties}))
        self.waiting = {q: WaitingQueue(q) for q in self.queues}
        self.pools: dict[tuple[QueueId, Skills], AgentPool] = {}
        self.pools_of_queue: dict[QueueId, list[AgentPool]] = {q: [] for q in self.queues}
        self.by_state_q = {q: _state_counts(len(m)) for q, m in self.members.items()}
        self.by_state_d = {d: _state_counts(0) for d in self.depts}
        for aid, depts in agent_depts.items():
            for d in depts:
                self.by_state_d[d][AgentState.LOGGED_OUT] += 1
            agent = self.agents[aid]
            agent.tallies = [self.by_state_q[q] for q in agent.penalties]
            agent.tallies += [self.by_state_d[d] for d in depts]
        self.counters_q = {q: self._counters() for q in self.queues}
        self.counters_d = {d: self._counters() for d in self.depts}
        self.deadlines = Deadlines()
        self.seq = 0
        self.route_seq = 0
        self.offer_seq = 0
        self.now = float("-inf")

    def _counters(self) -> Counters:
        s = self.spec
        return Counters(sl_short_s=s.sl_short_s, sl_target_s=s.sl_target_s, aht_s=s.aht_prior_s)

    # -- calls -------------------------------------------------------------------------

    def call_to(self, call: Call, target: CallState, now: float, reason: Reason, out: Out) -> None:
        """Move a call along its table, keeping queues, deadlines and records in step."""
        previous = call.state
        if target not in CALL_TRANSITIONS[previous]:  # the table check, inlined (hot path)
            check_call_move(previous, target, call.id)
        if previous is CallState.WAITING:
            self.waiting[call.queue].removed(call)
        elif previous is CallState.OVERFLOWING:
            partner = self.overflowing.pop(call.id, None)
            if partner is not None:
                self.in_flight[partner] -= 1
        call.token += 1
        call.state = target
        if target is CallState.WAITING:
            self.enqueue(call, now)
        elif target in TERMINAL_CALL_STATES:
            del self.calls[call.id]
            self.remember_ended(call.id, target)
        out.append(self.record(call, previous, now, reason))

    @staticmethod
    def record(call: Call, previous: CallState | None, now: float, reason: Reason) -> CallRecord:
        """The journal record of the call as it stands."""
        return CallRecord(
            call=call.id,
            dept=call.dept,
            queue=call.queue,
            state=call.state,
            previous=previous,
            at=now,
            agent=call.agent,
            reason=reason,
        )

    def enqueue(self, call: Call, now: float) -> None:
        """Put a waiting call at its place and set its time-based deadlines."""
        self.waiting[call.queue].add(call, self.calls)
        queue = self.queues[call.queue]
        if queue.max_wait_s is not None:
            self.deadlines.add(
                call.arrived_at + queue.max_wait_s, Due.MAX_WAIT, call.id, call.token
            )
        self.schedule_penalty_step(call, queue, now)

    def schedule_penalty_step(self, call: Call, queue: QueueSpec, now: float) -> None:
        """Wake up when the call's allowed penalty next widens."""
        # Compare absolute times: ``now - arrived < after`` can hold in floating point
        # at the very instant the step fires, which would re-arm it forever.
        later = [call.arrived_at + s.after_s for s in queue.penalty_steps]
        later = [at for at in later if at > now]
        if later:
            self.deadlines.add(min(later), Due.PENALTY_STEP, call.id, call.token)

    def remember_ended(self, cid: CallId, state: CallState) -> None:
        """Keep a bounded memory of terminal calls (dicts keep insertion order)."""
        self.ended[cid] = state
        if len(self.ended) > RECENT_TERMINAL_CALLS:
            del self.ended[next(iter(self.ended))]

    def new_route(self) -> RouteId:
        """A route id unique on this engine (the prefix makes it unique across instances)."""
        self.route_seq += 1
        return RouteId(f"{self.route_prefix}{self.route_seq}")

    def fallback(self, call: Call, now: float, reason: Reason, out: Out) -> None:
        """Hand a waiting call to the dialplan's static fallback."""
        route = self.new_route()
        call.route = route
        self.call_to(call, CallState.FALLBACK, now, reason, out)
        self.counters_q[call.queue].fallback += 1
        self.counters_d[call.dept].fallback += 1
        out.append(SendToFallback(call=call.id, route=route, reason=reason))

    # -- agents ------------------------------------------------------------------------

    def agent_to(
        self, agent: Agent, target: AgentState, now: float, reason: Reason, out: Out
    ) -> None:
        """Move an agent along its table, keeping counts, pools and records in step."""
        previous = agent.state
        if target not in AGENT_TRANSITIONS[previous]:  # the table check, inlined (hot path)
            check_agent_move(previous, target, agent.id)
        for counts in agent.tallies:
            counts[previous] -= 1
            counts[target] += 1
        agent.state = target
        agent.since = now
        agent.token += 1
        if target is not AgentState.PAUSED:
            agent.pause_reason = None
        if AgentState.AVAILABLE in (previous, target):  # others are never in a pool
            self.routability_changed(agent)
        out.append(
            AgentRecord(
                agent=agent.id,
                state=target,
                previous=previous,
                at=now,
                pause_reason=agent.pause_reason,
                reason=reason,
            )
        )

    def routability_changed(self, agent: Agent) -> None:
        """Invalidate the agent's pool entries; re-enter the pools if now routable."""
        agent.version += 1
        if agent.routable:
            for q in agent.penalties:
                for pool in self.pools_of_queue[q]:
                    if pool.accepts(agent):
                        pool.push(agent, self.agents)

    def pool(self, queue: QueueId, skills: Skills) -> AgentPool:
        """The routable agents of a queue holding ``skills``; built on first use."""
        pool = self.pools.get((queue, skills))
        if pool is None:
            spec = self.queues[queue]
            pool = AgentPool(queue, skills, spec.strategy, len(self.members[queue]))
            self.pools[(queue, skills)] = pool
            self.pools_of_queue[queue].append(pool)
            for aid in self.members[queue]:
                agent = self.agents[aid]
                if agent.routable and pool.accepts(agent):
                    pool.push(agent, self.agents)
        return pool

    def logged_in(self, queue: QueueId) -> int:
        """Agents of the queue not logged out."""
        return len(self.members[queue]) - self.by_state_q[queue][AgentState.LOGGED_OUT]

    # -- matching ----------------------------------------------------------------------

    def dispatch_queue(self, queue: QueueId, now: float, out: Out) -> None:
        """Offer the queue's calls, best score first, while some call has a routable agent."""
        waiting = self.waiting[queue]
        spec = self.queues[queue]
        while waiting.count:
            heads = list(waiting.heads(self.calls))
            if len(heads) > 1:
                heads.sort(key=lambda c: (c.key, c.seq))
            for call in heads:
                allowed = spec.max_penalty_at(call.arrived_at, now)
                agent = self.pool(queue, call.skills).best(self.agents, allowed)
                if agent is not None:
                    self.offer(call, agent, now, allowed, out)
                    break
            else:
                return

    def dispatch_agent(self, agent: Agent, now: float, out: Out) -> None:
        """Offer a newly routable agent the best call it may take, lowest penalty first."""
        best: tuple[int, float, int, Call] | None = None
        for q, penalty in agent.penalties.items():
            spec = self.queues[q]
            for call in self.waiting[q].heads(self.calls):
                if penalty > spec.max_penalty_at(call.arrived_at, now):
                    continue
                if not satisfies(agent.spec.skills, call.skills):
                    continue
                rank = (penalty, call.key, call.seq, call)
                if best is None or rank[:3] < best[:3]:
                    best = rank
        if best is not None:
            call = best[3]
            allowed = self.queues[call.queue].max_penalty_at(call.arrived_at, now)
            self.offer(call, agent, now, allowed, out)

    def offer(self, call: Call, agent: Agent, now: float, allowed: int, out: Out) -> None:
        """Ring the agent for the call: one route, one redirect, one deadline to check it."""
        spec = self.queues[call.queue]
        route = self.new_route()
        self.offer_seq += 1
        reason = Reason(
            rule=f"strategy:{spec.strategy}",
            values=(
                ("queue", call.queue),
                ("priority", call.priority),
                ("wait_s", now - call.arrived_at),
                ("score_s", now - call.key),
                ("agent_penalty", agent.penalties[call.queue]),
                ("allowed_penalty", allowed),
                ("idle_s", now - agent.idle_since),
                ("agent_calls", agent.calls),
                ("agent_talk_s", agent.talk_s),
            ),
        )
        call.route = route
        call.agent = agent.id
        call.confirmed = False
        call.offered_at = now
        call.attempts += 1
        self.call_to(call, CallState.OFFERED, now, reason, out)
        agent.call = call.id
        agent.last_offer_seq = self.offer_seq
        self.agent_to(agent, AgentState.OFFERED, now, reason, out)
        at = now + spec.ring_timeout_s + self.spec.offer_guard_s
        self.deadlines.add(at, Due.OFFER_CHECK, call.id, call.token)
        out.append(
            OfferCall(
                call=call.id,
                route=route,
                agent=agent.id,
                endpoint=agent.spec.endpoint,
                ring_timeout_s=spec.ring_timeout_s,
                reason=reason,
            )
        )

    def make_available(self, agent: Agent, now: float, reason: Reason, out: Out) -> None:
        """The agent can take calls again: apply what was pending, else offer a call."""
        agent.call = None
        if agent.pending_logout:
            agent.pending_logout = False
            agent.pending_pause = None
            self.agent_to(agent, AgentState.LOGGED_OUT, now, reason, out)
            self.after_logout(agent, now, out)
        elif agent.pending_pause is not None:
            agent.pause_reason, agent.pending_pause = agent.pending_pause, None
            self.agent_to(agent, AgentState.PAUSED, now, reason, out)
        else:
            self.agent_to(agent, AgentState.AVAILABLE, now, reason, out)
            if agent.routable:
                self.dispatch_agent(agent, now, out)

    def after_logout(self, agent: Agent, now: float, out: Out) -> None:
        """Queues left with nobody logged in send their callers to fallback if so configured."""
        for q in agent.penalties:
            spec = self.queues[q]
            if spec.leave_empty and self.logged_in(q) == 0:
                reason = Reason(rule="limit:leave-empty", values=(("queue", q),))
                for call in self.waiting[q].ordered(self.calls):
                    self.fallback(call, now, reason, out)

    # -- statistics -------------------------------------------------------------------

    def queue_stats(self, queue: QueueId, now: float) -> QueueStats:
        """A snapshot of one queue's figures."""
        if queue not in self.queues:
            raise UnknownQueue(f"unknown queue {queue!r}")
        return snapshot(
            id=queue,
            counters=self.counters_q[queue],
            waiting=self.waiting[queue].count,
            oldest_arrival=self.waiting[queue].oldest_arrival(self.calls),
            agents_by_state=self.by_state_q[queue],
            now=now,
        )

    def dept_stats(self, dept: DeptId, now: float) -> QueueStats:
        """A snapshot of one department's figures (all its queues)."""
        spec = self.depts.get(dept)
        if spec is None:
            raise UnknownQueue(f"unknown department {dept!r}")
        oldest = [self.waiting[q].oldest_arrival(self.calls) for q in spec.queues]
        return snapshot(
            id=dept,
            counters=self.counters_d[dept],
            waiting=sum(self.waiting[q].count for q in spec.queues),
            oldest_arrival=min((t for t in oldest if t is not None), default=None),
            agents_by_state=self.by_state_d[dept],
            now=now,
        )

    # -- deadlines ---------------------------------------------------------------------

    def deadline_valid(self, kind: Due, subject: str, token: int) -> bool:
        """Whether a stored deadline still concerns its subject as it is now."""
        if kind in _CALL_DEADLINES:
            call = self.calls.get(CallId(subject))
            return call is not None and call.token == token
        if kind in (Due.WRAPUP_END, Due.UNPAUSE):
            agent = self.agents.get(AgentId(subject))
            return agent is not None and agent.token == token
        if kind is Due.BACKOFF_END:
            agent = self.agents.get(AgentId(subject))
            return agent is not None and agent.backoff
        return token == self.eval_token  # the periodic overflow evaluation


_CALL_DEADLINES = frozenset({Due.OFFER_CHECK, Due.MAX_WAIT, Due.PENALTY_STEP})


def _state_counts(logged_out: int) -> dict[AgentState, int]:
    counts = dict.fromkeys(AgentState, 0)
    counts[AgentState.LOGGED_OUT] = logged_out
    return counts


def _check_spec(spec: EngineSpec, queues: dict[QueueId, QueueSpec]) -> None:
    depts = {d.id for d in spec.departments}
    problems: list[str] = []
    for q in spec.queues:
        if q.dept not in depts:
            problems.append(f"queue {q.id} names unknown department {q.dept}")
    for d in spec.departments:
        if not d.queues:
            problems.append(f"department {d.id} has no queue")
        problems.extend(
            f"department {d.id} names unknown queue {q}" for q in d.queues if q not in queues
        )
    for a in spec.agents:
        problems.extend(
            f"agent {a.id} serves unknown queue {m.queue}"
            for m in a.memberships
            if m.queue not in queues
        )
    if spec.priority(spec.default_priority) is None:
        problems.append(f"default priority {spec.default_priority} is not a declared class")
    if len({a.id for a in spec.agents}) != len(spec.agents):
        problems.append("agent ids are not unique")
    if problems:
        raise InvalidSpec("; ".join(problems))
