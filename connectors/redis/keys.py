"""Every Redis key, channel and TTL of the hot state: nothing else spells a key.

A platform (one ACD deployment, e.g. ``idf-15``) owns the keys under its namespace. The
department loads are the exception: partner platforms read them for look-ahead overflow,
so they live under a shared ``acd:load:{id}`` whatever platform writes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "acd"

EPOCH = "acd:{ns}:epoch"
"""The highest leadership epoch that wrote this namespace (no TTL: it is the fence)."""
CALL = "acd:{ns}:call:{id}"
CALLS = "acd:{ns}:calls"
"""Set of the call ids written and not deleted (some may have expired since)."""
AGENT = "acd:{ns}:agent:{id}"
AGENTS = "acd:{ns}:agents"
LOADS = "acd:{ns}:loads"
"""Set of the load ids this platform published (the loads themselves are shared)."""
LOAD = "acd:load:{id}"
"""A department's load, for every platform to read: ``75``, or a partner's ``samu-60``."""
NOTICES = "acd:{ns}:notices"
"""Pub/sub channel of the console's live notices."""

JOURNAL = "acd:{ns}:journal"
"""The journal outbox stream (field ``e``: one encoded entry); never trimmed by length."""
JOURNAL_DEAD = "acd:{ns}:journal:dead"
"""Outbox entries that could not be read (fields ``id``, ``e``, ``why``), kept for a person."""
JOURNAL_GROUP = "journal-writers"
"""The consumer group of the journal writers (one group: trimming follows its progress)."""

CALL_TTL_S = 24 * 3600.0
"""No call lives a day: a call key that old belongs to a dead instance's leftovers."""
AGENT_TTL_S = 7 * 24 * 3600.0
"""An agent's record changes only when the agent does: it must outlive a quiet weekend."""
LOAD_TTL_S = 30.0
"""A load not refreshed for this long is unknown: a partner must not overflow on it."""

_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# "load" would make acd:load:{id} (shared) and acd:{ns}:... collide: acd:load:epoch.
_RESERVED = frozenset({"load"})


def load_key(load_id: str) -> str:
    """The shared key of one department's load (any platform's)."""
    return LOAD.format(id=load_id)


@dataclass(frozen=True, slots=True)
class Keyspace:
    """The keys of one platform's namespace; the namespace is checked once, here."""

    namespace: str

    def __post_init__(self) -> None:
        if not _NAMESPACE.fullmatch(self.namespace) or self.namespace in _RESERVED:
            raise ValueError(
                f"bad hot-state namespace {self.namespace!r}: letters, digits, '_', '.', '-'"
                f" (at most 64, not {sorted(_RESERVED)})"
            )

    @property
    def epoch(self) -> str:
        return EPOCH.format(ns=self.namespace)

    @property
    def calls(self) -> str:
        return CALLS.format(ns=self.namespace)

    @property
    def agents(self) -> str:
        return AGENTS.format(ns=self.namespace)

    @property
    def loads(self) -> str:
        return LOADS.format(ns=self.namespace)

    @property
    def notices(self) -> str:
        return NOTICES.format(ns=self.namespace)

    def call(self, call_id: str) -> str:
        return CALL.format(ns=self.namespace, id=call_id)

    def agent(self, agent_id: str) -> str:
        return AGENT.format(ns=self.namespace, id=agent_id)

    def load(self, load_id: str) -> str:
        return load_key(load_id)

    def pattern(self) -> str:
        """A SCAN pattern for every key of this namespace (shared loads excluded)."""
        return f"{PREFIX}:{self.namespace}:*"
