"""The engine's live state and the moves on it: transitions, matching, offers, deadlines."""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from acd.core.commands import (
    CallRecord,
    Command,
    Reason,
    SendToFallback,
    build_agent_record,
    build_call_record,
    build_offer,
    build_reason,
)
from acd.core.ids import AgentId, CallId, DeptId, QueueId, RouteId
from acd.core.model import Agent, Call, satisfies
from acd.core.routing import AgentPool, WaitingQueue, serving_order
from acd.core.spec import EngineSpec, QueueSpec, Skills, check_spec
from acd.core.states import (
    AGENT_TRANSITIONS,
    CALL_TRANSITIONS,
    TERMINAL_CALL_STATES,
    AgentState,
    CallState,
    check_agent_move,
    check_call_move,
)
from acd.core.stats import Counters
from acd.core.timers import Deadlines, Due

# Enum members the hot paths read, as module constants: ``CallState.WAITING`` is a lookup
# on the enum class, about twenty times the cost of reading a global.
_WAITING: Final = CallState.WAITING
_OFFERED: Final = CallState.OFFERED
_OVERFLOWING: Final = CallState.OVERFLOWING
_AVAILABLE: Final = AgentState.AVAILABLE
_AGENT_OFFERED: Final = AgentState.OFFERED
_PAUSED: Final = AgentState.PAUSED
_LOGGED_OUT: Final = AgentState.LOGGED_OUT
_OFFER_CHECK: Final = Due.OFFER_CHECK
_MAX_WAIT: Final = Due.MAX_WAIT
_PENALTY_STEP: Final = Due.PENALTY_STEP
_WRAPUP_END: Final = Due.WRAPUP_END
_UNPAUSE: Final = Due.UNPAUSE
_BACKOFF_END: Final = Due.BACKOFF_END

RECENT_TERMINAL_CALLS = 100_000
"""How many ended calls are remembered, so that late or replayed events are recognised."""

Out = list[Command]


def call_record(call: Call, previous: CallState | None, now: float, reason: Reason) -> CallRecord:
    """The journal record of the call as it stands."""
    return build_call_record(
        call=call.id,
        dept=call.dept,
        queue=call.queue,
        state=call.state,
        previous=previous,
        at=now,
        agent=call.agent,
        reason=reason,
    )


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
        check_spec(spec)
        self.offer_rules = {q.id: f"strategy:{q.strategy}" for q in spec.queues}
        """The rule an offer's reason names, per queue (its strategy)."""
        self.calls: dict[CallId, Call] = {}
        self.overflowing: dict[CallId, str] = {}
        """Calls on their way to an external partner, and which one."""
        self.in_flight: dict[str, int] = {}
        """How many calls each external partner is being sent now (charged in look-ahead)."""
        self.ended: OrderedDict[CallId, CallState] = OrderedDict()
        """Recently ended calls, oldest first (see :meth:`remember_ended`)."""
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
        if previous is _WAITING:
            self.waiting[call.queue].removed(call)
        elif previous is _OVERFLOWING:
            partner = self.overflowing.pop(call.id, None)
            if partner is not None:
                self.in_flight[partner] -= 1
        call.token += 1
        call.state = target
        if target is _WAITING:
            self.enqueue(call, now)
        elif target in TERMINAL_CALL_STATES:
            del self.calls[call.id]
            self.remember_ended(call.id, target)
        out.append(call_record(call, previous, now, reason))

    record = staticmethod(call_record)
    """The journal record of a call as it stands (see :func:`call_record`)."""

    def enqueue(self, call: Call, now: float) -> None:
        """Put a waiting call at its place and set its time-based deadlines."""
        self.waiting[call.queue].add(call, self.calls)
        queue = self.queues[call.queue]
        if queue.max_wait_s is not None:
            self.deadlines.add(call.arrived_at + queue.max_wait_s, _MAX_WAIT, call.id, call.token)
        self.schedule_penalty_step(call, queue, now)

    def enqueue_arrival(self, call: Call, now: float) -> list[tuple[float, int, Due]]:
        """:meth:`enqueue` a new call, its deadlines held back: ``(at, place, kind)`` each.

        Most calls that arrive while an agent is free are offered within the same event;
        their maximum-wait and penalty-step deadlines would only go stale in the heap.
        Their places in line are reserved now, so :meth:`keep_deadlines` adds them, if the
        call still waits, exactly where :meth:`enqueue` would have.
        """
        self.waiting[call.queue].add(call, self.calls)
        queue = self.queues[call.queue]
        held: list[tuple[float, int, Due]] = []
        if queue.max_wait_s is not None:
            held.append((call.arrived_at + queue.max_wait_s, self.deadlines.reserve(), _MAX_WAIT))
        step = queue.next_step_at(call.arrived_at, now)
        if step is not None:
            held.append((step, self.deadlines.reserve(), _PENALTY_STEP))
        return held

    def keep_deadlines(self, call: Call, token: int, held: list[tuple[float, int, Due]]) -> None:
        """Add the deadlines :meth:`enqueue_arrival` held back, if the call is still waiting."""
        if call.token == token:  # not offered, sent to fallback nor moved meanwhile
            for at, place, kind in held:
                self.deadlines.add_reserved(at, place, kind, call.id, token)

    def schedule_penalty_step(self, call: Call, queue: QueueSpec, now: float) -> None:
        """Wake up when the call's allowed penalty next widens."""
        at = queue.next_step_at(call.arrived_at, now)
        if at is not None:
            self.deadlines.add(at, _PENALTY_STEP, call.id, call.token)

    def remember_ended(self, cid: CallId, state: CallState) -> None:
        """Keep a bounded memory of terminal calls, forgetting the oldest first."""
        self.ended[cid] = state
        if len(self.ended) > RECENT_TERMINAL_CALLS:
            # Not ``del d[next(iter(d))]`` on a plain dict: its iteration walks over the
            # slots of every key deleted since its last resize, ~10 µs per call once full.
            self.ended.popitem(last=False)

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
        if target is not _PAUSED:
            agent.pause_reason = None
        if previous is _AVAILABLE or target is _AVAILABLE:  # others are never in a pool
            self.routability_changed(agent)
        out.append(
            build_agent_record(
                agent=agent.id,
                state=target,
                previous=previous,
                at=now,
                pause_reason=agent.pause_reason,
                reason=reason,
            )
        )

    def routability_changed(self, agent: Agent) -> None:
        """Invalidate the agent's pool entries; re-enter its pools if now routable."""
        agent.version += 1
        # Agent.routable, inlined (hot path).
        if agent.state is _AVAILABLE and not agent.device_busy and not agent.backoff:
            for pool in agent.pools:
                pool.push(agent, self.agents)

    def pool(self, queue: QueueId, skills: Skills) -> AgentPool:
        """The routable agents of a queue holding ``skills``; built on first use."""
        pool = self.pools.get((queue, skills))
        if pool is None:
            spec = self.queues[queue]
            pool = AgentPool(queue, skills, spec.strategy, len(self.members[queue]))
            self.pools[(queue, skills)] = pool
            for aid in self.members[queue]:
                agent = self.agents[aid]
                if pool.accepts(agent):
                    agent.pools.append(pool)
                    if agent.routable:
                        pool.push(agent, self.agents)
        return pool

    def logged_in(self, queue: QueueId) -> int:
        """Agents of the queue not logged out."""
        return len(self.members[queue]) - self.by_state_q[queue][_LOGGED_OUT]

    # -- matching ----------------------------------------------------------------------

    def dispatch_queue(self, queue: QueueId, now: float, out: Out) -> None:
        """Offer the queue's calls, best score first, while some call has a routable agent."""
        waiting = self.waiting[queue]
        spec = self.queues[queue]
        while waiting.count:
            heads = waiting.heads(self.calls)
            if len(heads) > 1:
                heads.sort(key=serving_order)
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
        best: Call | None = None
        best_rank: tuple[int, float, int] = (0, 0.0, 0)
        skills = agent.spec.skills
        for q, penalty in agent.penalties.items():
            waiting = self.waiting[q]
            if not waiting.count:
                continue
            spec = self.queues[q]
            for call in waiting.heads(self.calls):
                if penalty > spec.max_penalty_at(call.arrived_at, now):
                    continue
                if call.skills and not satisfies(skills, call.skills):
                    continue
                rank = (penalty, call.arrived_at - call.head_start_s, call.seq)  # key, seq
                if best is None or rank < best_rank:
                    best, best_rank = call, rank
        if best is not None:
            allowed = self.queues[best.queue].max_penalty_at(best.arrived_at, now)
            self.offer(best, agent, now, allowed, out)

    def offer(self, call: Call, agent: Agent, now: float, allowed: int, out: Out) -> None:
        """Ring the agent for the call: one route, one redirect, one deadline to check it."""
        qid = call.queue
        spec = self.queues[qid]
        route = self.new_route()
        self.offer_seq += 1
        reason = build_reason(
            rule=self.offer_rules[qid],
            values=(
                ("queue", qid),
                ("priority", call.priority),
                ("wait_s", now - call.arrived_at),
                ("score_s", now - (call.arrived_at - call.head_start_s)),  # now - key
                ("agent_penalty", agent.penalties[qid]),
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
        self.call_to(call, _OFFERED, now, reason, out)
        agent.call = call.id
        agent.last_offer_seq = self.offer_seq
        self.agent_to(agent, _AGENT_OFFERED, now, reason, out)
        at = now + spec.ring_timeout_s + self.spec.offer_guard_s
        self.deadlines.add(at, _OFFER_CHECK, call.id, call.token)
        out.append(
            build_offer(
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
            self.agent_to(agent, _LOGGED_OUT, now, reason, out)
            self.after_logout(agent, now, out)
        elif agent.pending_pause is not None:
            agent.pause_reason, agent.pending_pause = agent.pending_pause, None
            self.agent_to(agent, _PAUSED, now, reason, out)
        else:
            self.agent_to(agent, _AVAILABLE, now, reason, out)
            if not agent.device_busy and not agent.backoff:  # routable (now available)
                self.dispatch_agent(agent, now, out)

    def after_logout(self, agent: Agent, now: float, out: Out) -> None:
        """Queues left with nobody logged in send their callers to fallback if so configured."""
        for q in agent.penalties:
            spec = self.queues[q]
            if spec.leave_empty and self.logged_in(q) == 0:
                reason = Reason(rule="limit:leave-empty", values=(("queue", q),))
                for call in self.waiting[q].ordered(self.calls):
                    self.fallback(call, now, reason, out)

    # -- deadlines ---------------------------------------------------------------------

    def deadline_valid(self, kind: Due, subject: str, token: int) -> bool:
        """Whether a stored deadline still concerns its subject as it is now."""
        # Identity tests, not set membership: an Enum's hash is computed in Python.
        if kind is _OFFER_CHECK or kind is _MAX_WAIT or kind is _PENALTY_STEP:
            call = self.calls.get(CallId(subject))
            return call is not None and call.token == token
        if kind is _WRAPUP_END or kind is _UNPAUSE:
            agent = self.agents.get(AgentId(subject))
            return agent is not None and agent.token == token
        if kind is _BACKOFF_END:
            agent = self.agents.get(AgentId(subject))
            return agent is not None and agent.backoff
        return token == self.eval_token  # the periodic overflow evaluation


def _state_counts(logged_out: int) -> dict[AgentState, int]:
    counts = dict.fromkeys(AgentState, 0)
    counts[AgentState.LOGGED_OUT] = logged_out
    return counts
