"""From a batch of entries to rows: one join rule per column, the same in memory and in SQL.

A call's record (``acd_call``) and its worklist row (``acd_callback``) are folds of entries
that may come twice, late or out of order (outbox retries, a spool replayed after a Redis
outage). Each column therefore merges with a rule that is idempotent, commutative and
associative, so any delivery order gives the same row:

- a milestone (arrived, offered, answered) keeps the **earliest** time seen: set once when
  entries come in order, and still right when a later offer is delivered first;
- the end (``ended_s``, ``outcome``) comes from the **latest** terminal state;
- ``dept``, ``queue``, ``state`` come from the **newest** entry (time, then UUIDv7 order);
- ``path`` keeps the **longest** overflow path; ``priority``, ``caller``, ``origin`` and the
  answering ``agent`` keep the first non-null value (only one kind of entry carries them).

``connectors.sql.upsert`` writes the same rules as SQL for the merge with the stored row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import sqlalchemy as sa

from acd.core.states import TERMINAL_CALL_STATES, CallState
from acd.journal import EntryKind, JournalEntry, JournalEntryError, Scalar
from connectors.sql.schema import CALLBACK_STATUSES, ENTRY_TABLES, RENAMED

Row = dict[str, Any]

ANSWERING = frozenset({CallState.CONNECTED, CallState.ENDED})
"""States whose entry names the agent who answered (an offer's agent may not have)."""
NEW_CALLBACK = CALLBACK_STATUSES[0]

T = TypeVar("T", str, float)


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


def _first(a: T | None, b: T | None) -> T | None:
    return b if a is None else a


def _longest(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    return b if b is not None and len(b) > len(a) else a


def _as_text(value: Scalar, length: int | None) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    # Clipped rather than refused: a batch the database refuses would block the journal.
    # Oracle stores '' as NULL: store NULL everywhere, so no report depends on the database.
    return text[:length] or None


def _as_seconds(value: Scalar) -> float | None:
    if value is None or isinstance(value, str):
        return None
    return float(value)


def entry_row(entry: JournalEntry) -> Row:
    """The row of an entry in its kind's table: fields renamed, clipped, '' made NULL."""
    table = ENTRY_TABLES[entry.kind]
    row: Row = {"id": entry.id, "at_s": float(entry.at), "epoch": int(entry.epoch)}
    for name, value in entry.fields.items():
        column = table.c.get(RENAMED.get(name, name))
        if column is None or column.name in row:
            raise JournalEntryError(f"unknown field {name!r} for {entry.kind.value}")
        if isinstance(column.type, sa.String):
            row[column.name] = _as_text(value, column.type.length)
        else:
            row[column.name] = _as_seconds(value)
    for column in table.columns:
        row.setdefault(column.name, None)
    return row


@dataclass(slots=True)
class CallRow:
    """A call's record as far as some of its entries tell (``acd_call``)."""

    call_id: str
    dept: str | None = None
    queue: str | None = None
    state: str | None = None
    priority: str | None = None
    caller: str | None = None
    origin: str | None = None
    path: str | None = None
    arrived_s: float | None = None
    offered_s: float | None = None
    answered_s: float | None = None
    ended_s: float | None = None
    outcome: str | None = None
    agent: str | None = None
    updated_s: float | None = None
    last_entry: str | None = None

    @staticmethod
    def of(row: Row) -> CallRow:
        """The record a CALL entry's row (see ``entry_row``) contributes."""
        state = row["state"]
        arrived = row["arrived_s"]
        if arrived is None and row["previous"] is None:
            arrived = row["at_s"]  # the first entry of a call is its arrival
        at = row["at_s"]
        terminal = state in TERMINAL_CALL_STATES
        return CallRow(
            call_id=row["call_id"],
            dept=row["dept"],
            queue=row["queue"],
            state=state,
            priority=row["priority"],
            caller=row["caller"],
            origin=row["origin"],
            path=row["path"],
            arrived_s=arrived,
            offered_s=at if state == CallState.OFFERED else None,
            answered_s=at if state == CallState.CONNECTED else None,
            ended_s=at if terminal else None,
            outcome=state if terminal else None,
            agent=row["agent"] if state in ANSWERING else None,
            updated_s=at,
            last_entry=row["id"],
        )

    def newer_than(self, other: CallRow) -> bool:
        """Whether this record's latest entry is newer than ``other``'s (time, then id)."""
        if self.updated_s is None or self.last_entry is None:
            return False
        if other.updated_s is None or other.last_entry is None:
            return True
        return (self.updated_s, self.last_entry) > (other.updated_s, other.last_entry)

    def join(self, new: CallRow) -> CallRow:
        """Both records merged; the same in any order, and joining twice changes nothing."""
        newer = new.newer_than(self)
        latest = new if newer else self
        other = self if newer else new
        ended, outcome = self.ended_s, self.outcome
        if new.ended_s is not None and (
            ended is None
            or new.ended_s > ended
            or (new.ended_s == ended and (new.outcome or "") > (outcome or ""))
        ):
            ended, outcome = new.ended_s, new.outcome
        return CallRow(
            call_id=self.call_id,
            dept=_first(latest.dept, other.dept),
            queue=_first(latest.queue, other.queue),
            state=_first(latest.state, other.state),
            priority=_first(self.priority, new.priority),
            caller=_first(self.caller, new.caller),
            origin=_first(self.origin, new.origin),
            path=_longest(self.path, new.path),
            arrived_s=_earliest(self.arrived_s, new.arrived_s),
            offered_s=_earliest(self.offered_s, new.offered_s),
            answered_s=_earliest(self.answered_s, new.answered_s),
            ended_s=ended,
            outcome=outcome,
            agent=_first(self.agent, new.agent),
            updated_s=latest.updated_s,
            last_entry=latest.last_entry,
        )

    def row(self) -> Row:
        """The record as column values."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(slots=True)
class CallbackRow:
    """An abandoned call's worklist row as far as some entries tell (``acd_callback``)."""

    call_id: str
    dept: str | None = None
    caller: str | None = None
    abandoned_s: float | None = None
    wait_s: float | None = None
    status: str | None = None
    updated_s: float | None = None
    updated_by: str | None = None

    def join(self, new: CallbackRow) -> CallbackRow:
        """Both rows merged: where and when it was abandoned, and the latest status."""
        newer = new.updated_s is not None and (
            self.updated_s is None or new.updated_s > self.updated_s
        )
        status = new if newer else self
        return CallbackRow(
            call_id=self.call_id,
            dept=_first(self.dept, new.dept),
            caller=_first(self.caller, new.caller),
            abandoned_s=_earliest(self.abandoned_s, new.abandoned_s),
            wait_s=_first(self.wait_s, new.wait_s),
            status=status.status,
            updated_s=status.updated_s,
            updated_by=status.updated_by,
        )

    def row(self) -> Row:
        """The row as column values."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(slots=True)
class BatchPlan:
    """What one batch writes: entry rows per table, then the merged derived rows."""

    entries: dict[EntryKind, list[Row]] = field(default_factory=dict)
    calls: dict[str, CallRow] = field(default_factory=dict)
    callbacks: dict[str, CallbackRow] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """How many distinct entries the batch holds."""
        return sum(len(rows) for rows in self.entries.values())


def _merge(into: dict[str, Any], key: str, row: Any) -> None:
    known = into.get(key)
    into[key] = row if known is None else known.join(row)


def plan_batch(entries: Sequence[JournalEntry]) -> BatchPlan:
    """The rows a batch writes, duplicates dropped and each call's entries merged."""
    plan = BatchPlan()
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            continue
        seen.add(entry.id)
        row = entry_row(entry)
        plan.entries.setdefault(entry.kind, []).append(row)
        if entry.kind is EntryKind.CALL and row["call_id"] is not None:
            _merge(plan.calls, row["call_id"], CallRow.of(row))
            if row["state"] == CallState.ABANDONED:
                abandoned = CallbackRow(
                    call_id=row["call_id"],
                    dept=row["dept"],
                    abandoned_s=row["at_s"],
                    status=NEW_CALLBACK,
                    updated_s=row["at_s"],
                )
                _merge(plan.callbacks, row["call_id"], abandoned)
        elif entry.kind is EntryKind.CALLBACK and row["call_id"] is not None:
            update = CallbackRow(
                call_id=row["call_id"],
                status=row["status"],
                updated_s=row["at_s"],
                updated_by=row["actor"],
            )
            _merge(plan.callbacks, row["call_id"], update)
    return plan


def fold_calls(rows: Iterable[Mapping[str, Any]]) -> dict[str, CallRow]:
    """Each call's record from CALL entry rows, in memory (what the SQL merge must equal)."""
    out: dict[str, CallRow] = {}
    for row in rows:
        _merge(out, row["call_id"], CallRow.of(dict(row)))
    return out
