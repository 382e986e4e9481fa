"""Hot state documents: what a standby needs to take over, as plain JSON-ready mappings.

The runtime turns the engine's records into a ``HotBatch`` after each decision; a hot-state
adapter (Redis, or memory for the embedded default) writes it whole, fenced by the
leadership epoch, and hands back a ``HotSnapshot`` to the instance that takes over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]
"""A JSON-ready mapping (str keys; str, int, float, bool, None, lists and nested docs)."""


class HotStateFenced(Exception):
    """A write carried an epoch older than the one the store holds: a newer leader exists.

    Slug ``stale-epoch``. The writer must stop acting: it is no longer the leader.
    """

    slug = "stale-epoch"

    def __init__(self, *, epoch: int, current: int) -> None:
        super().__init__(f"hot-state write with epoch {epoch} refused: the store holds {current}")
        self.epoch = epoch
        self.current = current


class HotStateUnavailable(Exception):
    """The hot-state store cannot be reached now (slug ``hot-state-unavailable``)."""

    slug = "hot-state-unavailable"


@dataclass(slots=True)
class HotBatch:
    """Everything one or more decisions changed, written in one round trip."""

    calls: dict[str, Doc | None] = field(default_factory=dict)
    """Live calls by call id; ``None`` removes a call that reached a terminal state."""
    agents: dict[str, Doc] = field(default_factory=dict)
    """Agents by agent id (every agent, logged out included, once it changed)."""
    loads: dict[str, Doc] = field(default_factory=dict)
    """Department loads by department id, published for partners' look-ahead."""
    notices: list[Doc] = field(default_factory=list)
    """Messages for the console's live channel (pub/sub), in order."""

    def __bool__(self) -> bool:
        return bool(self.calls or self.agents or self.loads or self.notices)

    def merge(self, other: HotBatch) -> None:
        """Fold a later batch into this one (later values win, notices keep their order)."""
        self.calls.update(other.calls)
        self.agents.update(other.agents)
        self.loads.update(other.loads)
        self.notices.extend(other.notices)


@dataclass(frozen=True, slots=True, kw_only=True)
class HotSnapshot:
    """The hot state as stored: what a restarted or promoted instance starts from."""

    epoch: int
    """The highest epoch that wrote here (0: never written)."""
    calls: dict[str, Doc]
    agents: dict[str, Doc]
    loads: dict[str, Doc]
