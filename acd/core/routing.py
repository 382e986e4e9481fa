"""Who waits and who is free, indexed so that every routing decision costs O(log n), not O(n)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from acd.core.ids import AgentId, CallId, QueueId
from acd.core.model import Agent, Call, satisfies
from acd.core.spec import Skills, Strategy
from acd.core.states import AgentState, CallState

# Module constants: an enum class attribute lookup costs about twenty times a global.
_WAITING: Final = CallState.WAITING
_AVAILABLE: Final = AgentState.AVAILABLE

# Waiting calls are split into buckets of one priority class and one skill requirement.
# Within a bucket the key order is the arrival order, so the head is the bucket's longest
# wait and therefore the widest allowed penalty: if the head cannot take an agent, no call
# of that bucket can. A decision looks at bucket heads only (a handful), never the queue.

_Entry = tuple[float, int, CallId, int]  # key, arrival seq, call, call token


def serving_order(call: Call) -> tuple[float, int]:
    """A waiting call's place in its queue: its key (arrival minus head start), then seq."""
    return (call.arrived_at - call.head_start_s, call.seq)


@dataclass(slots=True)
class Bucket:
    """Calls of one queue with the same priority class and skills, in queue order."""

    skills: Skills
    heap: list[_Entry] = field(default_factory=list)
    live: int = 0

    def push(self, call: Call) -> None:
        """Put a waiting call at its place (its key never changes, so requeue is exact)."""
        heapq.heappush(self.heap, (call.key, call.seq, call.id, call.token))
        self.live += 1

    def head(self, calls: dict[CallId, Call]) -> Call | None:
        """The first call of the bucket still waiting here, dropping stale entries."""
        heap = self.heap
        while heap:
            _, _, cid, token = heap[0]
            call = calls.get(cid)
            if call is not None and call.token == token and call.state is _WAITING:
                return call
            heapq.heappop(heap)
        return None

    def compact(self, calls: dict[CallId, Call]) -> None:
        """Drop every stale entry (bounded memory when calls leave from the middle)."""
        self.heap = [e for e in self.heap if _valid(calls, e)]
        heapq.heapify(self.heap)


def _valid(calls: dict[CallId, Call], entry: _Entry) -> bool:
    call = calls.get(entry[2])
    return call is not None and call.token == entry[3] and call.state is _WAITING


@dataclass(slots=True)
class WaitingQueue:
    """The waiting calls of one queue, as buckets; ``count`` is exact."""

    id: QueueId
    buckets: dict[tuple[str, Skills], Bucket] = field(default_factory=dict)
    count: int = 0

    def add(self, call: Call, calls: dict[CallId, Call]) -> Bucket:
        """Enqueue a waiting call in its bucket."""
        bucket = self.buckets.get((call.priority, call.skills))
        if bucket is None:
            bucket = self.buckets[(call.priority, call.skills)] = Bucket(call.skills)
        bucket.push(call)
        self.count += 1
        if len(bucket.heap) > 2 * bucket.live + 64:
            bucket.compact(calls)
        return bucket

    def removed(self, call: Call) -> None:
        """Account for a call that left the waiting state (its entry goes stale)."""
        bucket = self.buckets[(call.priority, call.skills)]
        bucket.live -= 1
        self.count -= 1

    def heads(self, calls: dict[CallId, Call]) -> list[Call]:
        """The head call of every non-empty bucket (unordered)."""
        heads = []
        for bucket in self.buckets.values():
            head = bucket.head(calls)
            if head is not None:
                heads.append(head)
        return heads

    def oldest_arrival(self, calls: dict[CallId, Call]) -> float | None:
        """Arrival time of the longest-waiting call, or ``None`` when nobody waits."""
        return min((c.arrived_at for c in self.heads(calls)), default=None)

    def by_arrival(self, calls: dict[CallId, Call]) -> Iterator[Call]:
        """Waiting calls, longest wait first, lazily: O(log n) per call taken."""
        walks = [_walk(b.heap, calls) for b in self.buckets.values() if b.live]
        return heapq.merge(*walks, key=lambda c: (c.arrived_at, c.seq))

    def ordered(self, calls: dict[CallId, Call]) -> list[Call]:
        """Every waiting call in serving order (for display; O(n log n))."""
        live = [calls[e[2]] for b in self.buckets.values() for e in b.heap if _valid(calls, e)]
        return sorted(live, key=lambda c: (c.key, c.seq))


def _walk(heap: list[_Entry], calls: dict[CallId, Call]) -> Iterator[Call]:
    """A heap's valid entries in order without popping it (children pushed as reached)."""
    if not heap:
        return
    frontier = [(heap[0], 0)]
    size = len(heap)
    while frontier:
        entry, i = heapq.heappop(frontier)
        if _valid(calls, entry):
            yield calls[entry[2]]
        for j in (2 * i + 1, 2 * i + 2):
            if j < size:
                heapq.heappush(frontier, (heap[j], j))


StrategyKey = Callable[[Agent], float]

STRATEGY_KEYS: dict[Strategy, StrategyKey] = {
    # The agent who finished a call (or logged in) longest ago.
    Strategy.LONGEST_IDLE: lambda a: a.idle_since,
    # The agent offered a call least recently: a rotation that remembers where it stopped.
    Strategy.ROUND_ROBIN: lambda a: float(a.last_offer_seq),
    Strategy.FEWEST_CALLS: lambda a: float(a.calls),
    Strategy.LEAST_TALK_TIME: lambda a: a.talk_s,
}

_AgentEntry = tuple[float, int, AgentId, int]  # strategy key, config order, agent, version


@dataclass(slots=True)
class AgentPool:
    """Routable agents of one queue holding one skill requirement, per penalty tier."""

    queue: QueueId
    skills: Skills
    strategy: Strategy
    members: int
    tiers: dict[int, list[_AgentEntry]] = field(default_factory=dict)
    penalties: list[int] = field(default_factory=list)
    key: StrategyKey = field(init=False, repr=False, compare=False)
    """The strategy's ordering of agents (lowest first)."""

    def __post_init__(self) -> None:
        self.key = STRATEGY_KEYS[self.strategy]

    def accepts(self, agent: Agent) -> bool:
        """Whether the agent belongs in this pool (serves the queue with the skills)."""
        return self.queue in agent.penalties and satisfies(agent.spec.skills, self.skills)

    def push(self, agent: Agent, agents: dict[AgentId, Agent]) -> None:
        """Record that the agent became routable, keyed by the queue's strategy."""
        penalty = agent.penalties[self.queue]
        tier = self.tiers.get(penalty)
        if tier is None:
            tier = self.tiers[penalty] = []
            self.penalties = sorted(self.tiers)
        heapq.heappush(tier, (self.key(agent), agent.order, agent.id, agent.version))
        if len(tier) > 2 * self.members + 64:
            self.compact(agents)

    def compact(self, agents: dict[AgentId, Agent]) -> None:
        """Drop stale entries of every tier."""
        for penalty, tier in self.tiers.items():
            kept = [e for e in tier if _agent_valid(agents, e)]
            heapq.heapify(kept)
            self.tiers[penalty] = kept

    def best(self, agents: dict[AgentId, Agent], max_penalty: int) -> Agent | None:
        """The strategy's pick in the lowest non-empty tier at or under ``max_penalty``."""
        for penalty in self.penalties:
            if penalty > max_penalty:
                return None
            tier = self.tiers[penalty]
            while tier:
                if _agent_valid(agents, tier[0]):
                    return agents[tier[0][2]]
                heapq.heappop(tier)
        return None


def _agent_valid(agents: dict[AgentId, Agent], entry: _AgentEntry) -> bool:
    agent = agents[entry[2]]
    # Agent.routable, inlined (hot path).
    return (
        agent.version == entry[3]
        and agent.state is _AVAILABLE
        and not agent.device_busy
        and not agent.backoff
    )
