"""Test and simulation aids: small spec builders and a driver that ticks deadlines in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from acd.core import events as ev
from acd.core.commands import Command, OfferCall
from acd.core.engine import Engine
from acd.core.ids import AgentId, DeptId, QueueId
from acd.core.spec import (
    AgentSpec,
    DepartmentSpec,
    EngineSpec,
    Membership,
    PriorityClass,
    QueueSpec,
)

PRIORITIES = (
    PriorityClass(name="vitale", head_start_s=120.0),
    PriorityClass(name="normal", head_start_s=0.0),
)


def simple_spec(
    *,
    depts: tuple[str, ...] = ("75",),
    agents_per_dept: int = 2,
    queue: dict[str, Any] | None = None,
    engine: dict[str, Any] | None = None,
) -> EngineSpec:
    """One queue ``<dept>-main`` per department and ``agents_per_dept`` agents serving it.

    Agents are named ``<dept>-a<i>`` with endpoint ``PJSIP/<dept>-a<i>``; ``queue`` and
    ``engine`` override fields of every :class:`QueueSpec` and of the :class:`EngineSpec`.
    """
    queues = tuple(
        QueueSpec(id=QueueId(f"{d}-main"), dept=DeptId(d), **(queue or {})) for d in depts
    )
    departments = tuple(
        DepartmentSpec(id=DeptId(d), name=f"SAMU {d}", queues=(QueueId(f"{d}-main"),))
        for d in depts
    )
    agents = tuple(
        AgentSpec(
            id=AgentId(f"{d}-a{i}"),
            name=f"ARM {d}-{i}",
            endpoint=f"PJSIP/{d}-a{i}",
            memberships=(Membership(queue=QueueId(f"{d}-main")),),
        )
        for d in depts
        for i in range(agents_per_dept)
    )
    return EngineSpec(
        departments=departments,
        queues=queues,
        agents=agents,
        priorities=PRIORITIES,
        default_priority="normal",
        **(engine or {}),
    )


@dataclass
class Driver:
    """Feeds an engine as the runtime does: due deadlines are ticked before each event."""

    engine: Engine
    now: float = 1_000_000.0
    log: list[Command] = field(default_factory=list)

    def advance(self, to: float) -> list[Command]:
        """Let time pass until ``to``, ticking every deadline on the way, in order."""
        out: list[Command] = []
        while (due := self.engine.next_deadline()) is not None and due <= to:
            self.now = max(self.now, due)
            out += self.engine.handle(ev.Tick(), self.now)
        self.now = max(self.now, to)
        self.log += out
        return out

    def send(self, event: ev.Event, after: float = 0.0) -> list[Command]:
        """Deliver ``event`` ``after`` seconds from now; returns the commands of the event."""
        self.advance(self.now + after)
        out = self.engine.handle(event, self.now)
        self.log += out
        return out


def offers(commands: list[Command]) -> list[OfferCall]:
    """The offers among ``commands``."""
    return [c for c in commands if isinstance(c, OfferCall)]
