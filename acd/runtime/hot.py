"""Write-through to the hot state: what each decision changed, coalesced, one batch in flight.

The dispatcher calls :meth:`HotStateWriter.on_decision` after every decision (synchronous,
cheap: it only marks what changed). The writer task turns the marks into one batch read
from the engine at that moment, so a burst of decisions costs one round trip and the
documents written are always the latest. A store that is down delays the writes, never
the routing: the marks wait and everything marked is written when the store answers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from acd.core import events as ev
from acd.core.commands import AgentRecord, CallRecord, Command
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId, DeptId
from acd.core.stats import QueueStats
from acd.hotstate import Doc, HotBatch, HotStateFenced
from acd.ports import HotState, WallClock

log = logging.getLogger("acd.hotstate")

LOAD_EVERY_S = 1.0
"""Loads are published at least this often: waits grow with time, not only with events."""


def load_doc(stats: QueueStats, now: float) -> Doc:
    """A department's load as partners read it for look-ahead."""
    return {
        "waiting": stats.waiting,
        "oldest_wait_s": round(stats.longest_wait_s, 3),
        "estimated_wait_s": stats.estimated_wait_s,
        "available_agents": stats.available_agents,
        "logged_in_agents": stats.logged_in_agents,
        "service_level": stats.service_level,
        "at": now,
    }


@dataclass(slots=True)
class HotStats:
    """What the writer did (for /metrics and the console)."""

    batches: int = 0
    documents: int = 0
    failures: int = 0
    fenced: bool = False
    last_write_s: float = 0.0
    """Duration of the last successful write."""


class HotStateWriter:
    """Marks what decisions change; a task writes the marked documents in batches."""

    def __init__(
        self,
        *,
        engine: Engine,
        store: HotState,
        clock: WallClock,
        epoch: Callable[[], int] = lambda: 0,
        retry_max_s: float = 2.0,
    ) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.epoch = epoch
        self.retry_max_s = retry_max_s
        self.stats = HotStats()
        self._calls: set[CallId] = set()
        self._agents: set[AgentId] = set()
        self._depts: set[DeptId] = set()
        self._notices: list[Doc] = []
        self._wake = asyncio.Event()

    # -- marks (dispatcher task, synchronous) ---------------------------------------------

    def on_decision(self, _event: ev.Event, commands: list[Command]) -> None:
        """Mark the calls, agents and departments a decision touched (a dispatcher listener)."""
        for cmd in commands:
            if isinstance(cmd, CallRecord):
                self._calls.add(cmd.call)
                self._depts.add(cmd.dept)
                self._notices.append(
                    {"kind": "call", "call": cmd.call, "dept": cmd.dept, "state": cmd.state.value}
                    | {"agent": cmd.agent, "at": cmd.at}
                )
            elif isinstance(cmd, AgentRecord):
                self._agents.add(cmd.agent)
                self._notices.append(
                    {"kind": "agent", "agent": cmd.agent, "state": cmd.state.value}
                    | {"pause_reason": cmd.pause_reason, "at": cmd.at}
                )
        if self._calls or self._agents:
            self._wake.set()

    def mark_everything(self) -> None:
        """Mark every live call, every agent and every department (after a start or a gap)."""
        self._calls.update(c.id for c in self.engine.live_calls())
        self._agents.update(self.engine.agents)
        self._depts.update(self.engine.depts)
        self._wake.set()

    @property
    def pending(self) -> int:
        """Documents marked and not yet written."""
        return len(self._calls) + len(self._agents) + len(self._depts)

    # -- the writer task -------------------------------------------------------------------

    def take(self) -> HotBatch:
        """Read the marked documents from the engine now and clear the marks."""
        engine, now = self.engine, self.clock()
        batch = HotBatch(
            calls={c: engine.call_doc(c) for c in self._calls},
            agents={a: engine.agent_doc(a) for a in self._agents},
            loads={d: load_doc(engine.dept_stats(d, now), now) for d in self._depts},
            notices=self._notices,
        )
        self._calls, self._agents, self._depts, self._notices = set(), set(), set(), []
        return batch

    def _give_back(self, batch: HotBatch) -> None:
        """A failed batch's subjects are marked again (their latest state will be written)."""
        self._calls.update(CallId(c) for c in batch.calls)
        self._agents.update(AgentId(a) for a in batch.agents)
        self._depts.update(DeptId(d) for d in batch.loads)
        self._notices = batch.notices + self._notices

    async def run(self) -> None:
        """Write marked documents as they come, loads at least every second, until fenced."""
        delay = 0.1
        while not self.stats.fenced:
            try:
                await asyncio.wait_for(self._wake.wait(), LOAD_EVERY_S)
            except TimeoutError:
                self._depts.update(self.engine.depts)  # publish loads even when idle
            self._wake.clear()
            batch = self.take()
            if not batch:
                continue
            started = self.clock()
            try:
                await self.store.write(batch, epoch=self.epoch())
            except HotStateFenced as err:
                self.stats.fenced = True
                log.critical("hot state refused our writes (%s): a newer leader exists", err)
                return
            except Exception as err:  # store down or failing: never lose the marks
                self.stats.failures += 1
                self._give_back(batch)
                log.warning("hot-state write failed (%s): retrying in %.1fs", err, delay)
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter
                delay = min(delay * 2, self.retry_max_s)
                self._wake.set()
                continue
            delay = 0.1
            self.stats.batches += 1
            self.stats.documents += len(batch.calls) + len(batch.agents) + len(batch.loads)
            self.stats.last_write_s = self.clock() - started


class PartnerLoadReader:
    """Reads the loads external partners publish and hands the fresh ones to the engine."""

    def __init__(
        self,
        *,
        store: HotState,
        partners: Callable[[], Sequence[str]],
        submit: Callable[[ev.Event], None],
        every_s: float = 1.0,
    ) -> None:
        self.store = store
        self.partners = partners
        self.submit = submit
        self.every_s = every_s
        self._seen: dict[str, float] = {}

    async def poll_once(self) -> int:
        """Read every partner's load once; returns how many fresh loads were handed over."""
        ids = list(self.partners())
        if not ids:
            return 0
        fresh = 0
        for pid, doc in (await self.store.loads_of(ids)).items():
            event = partner_event(pid, doc)
            if event is None or self._seen.get(pid) == event.at:
                continue
            self._seen[pid] = event.at
            self.submit(event)
            fresh += 1
        return fresh

    async def run(self) -> None:
        """Poll until cancelled; a store that is down leaves the loads to age out."""
        while True:
            try:
                await self.poll_once()
            except Exception as err:
                log.warning("partner loads not read: %s", err)
            await asyncio.sleep(self.every_s)


def partner_event(pid: str, doc: Doc) -> ev.PartnerLoadReported | None:
    """A published load as the engine's event; ``None`` when the document is unusable."""
    try:
        ewt = doc.get("estimated_wait_s")
        return ev.PartnerLoadReported(
            partner=pid,
            waiting=int(doc["waiting"]),
            available_agents=int(doc["available_agents"]),
            estimated_wait_s=None if ewt is None else float(ewt),
            at=float(doc["at"]),
        )
    except (KeyError, TypeError, ValueError):
        log.warning("load published by %s is unreadable: ignored", pid)
        return None
