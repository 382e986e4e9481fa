"""Journal entries: every decision and state change as a flat, versioned, uniquely named record.

An entry is born where the change happens, with a UUIDv7 (time-ordered, unique across
instances) that the SQL journal uses as its idempotency key: whatever route an entry takes
(Redis Stream, local spool, retries), inserting it twice keeps one row.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from acd.core.commands import (
    AgentRecord,
    CallRecord,
    Command,
    MoveCall,
    OfferCall,
    OverflowCall,
    OverflowHeld,
    Reason,
    RuleChanged,
    SendToFallback,
    VerifyRoute,
)
from acd.core.ids import CallId
from acd.core.model import CallView

Scalar = str | int | float | None


class EntryKind(StrEnum):
    """Which journal table an entry belongs to."""

    CALL = "call"
    """A call changed state (its milestones make the call record)."""
    DECISION = "decision"
    """A routing decision with its reason and the configuration version."""
    AGENT = "agent"
    """An agent changed state (login, pause with reason, wrap-up...)."""
    AUDIT = "audit"
    """A person did something (supervisor action, configuration reload)."""
    CONFIG = "config"
    """A configuration version was loaded."""
    CALLBACK = "callback"
    """The callback status of an abandoned call changed (worklist)."""


FIELDS: Mapping[EntryKind, tuple[str, ...]] = {
    EntryKind.CALL: (
        "call",
        "dept",
        "queue",
        "state",
        "previous",
        "agent",
        "priority",
        "caller",
        "origin",
        "path",
        "arrived_at",
        "reason",
    ),
    EntryKind.DECISION: (
        "call",
        "dept",
        "action",
        "route",
        "agent",
        "target",
        "rule",
        "reason",
        "config_version",
    ),
    EntryKind.AGENT: ("agent", "state", "previous", "pause_reason", "reason"),
    EntryKind.AUDIT: ("actor", "role", "action", "target", "details", "source"),
    EntryKind.CONFIG: ("version", "path", "detail"),
    EntryKind.CALLBACK: ("call", "status", "actor", "note"),
}
"""The fields of each kind, all optional scalars; an entry carries no other field."""


class JournalEntryError(ValueError):
    """Bytes or fields that are not a journal entry (slug ``bad-journal-entry``)."""

    slug = "bad-journal-entry"


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry:
    """One record for the durable journal."""

    id: str
    """UUIDv7 in its 36-character text form; the idempotency key."""
    kind: EntryKind
    at: float
    """When it happened, epoch seconds."""
    epoch: int
    """The leadership epoch of the instance that wrote it (fencing)."""
    fields: Mapping[str, Scalar] = field(default_factory=dict)

    def get(self, name: str) -> Scalar:
        """A field's value (``None`` when absent)."""
        return self.fields.get(name)

    def encode(self) -> bytes:
        """Compact JSON, the form the outbox and the spool file carry."""
        doc: dict[str, object] = {"id": self.id, "kind": self.kind.value, "at": self.at}
        doc["epoch"] = self.epoch
        doc["f"] = dict(self.fields)
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    @staticmethod
    def decode(raw: bytes | str) -> JournalEntry:
        """Read an encoded entry back; ``JournalEntryError`` says what is wrong."""
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise JournalEntryError(f"not JSON: {err}") from None
        if not isinstance(doc, dict):
            raise JournalEntryError("not an object")
        return _from_doc(doc)


def _from_doc(doc: dict[str, Any]) -> JournalEntry:
    try:
        kind = EntryKind(doc["kind"])
    except (KeyError, ValueError):
        raise JournalEntryError(f"unknown kind {doc.get('kind')!r}") from None
    ident, at, epoch, fields = doc.get("id"), doc.get("at"), doc.get("epoch"), doc.get("f", {})
    if not isinstance(ident, str) or len(ident) != 36:
        raise JournalEntryError(f"bad id {ident!r}")
    if not isinstance(at, int | float) or isinstance(at, bool):
        raise JournalEntryError(f"bad time {at!r}")
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        raise JournalEntryError(f"bad epoch {epoch!r}")
    if not isinstance(fields, dict):
        raise JournalEntryError("fields are not an object")
    allowed = FIELDS[kind]
    for name, value in fields.items():
        if name not in allowed:
            raise JournalEntryError(f"unknown field {name!r} for {kind.value}")
        if value is not None and not isinstance(value, str | int | float):
            raise JournalEntryError(f"field {name!r} is not a scalar")
    return JournalEntry(id=ident, kind=kind, at=float(at), epoch=epoch, fields=fields)


# -- UUIDv7 ---------------------------------------------------------------------------------


def uuid7(ms: int, rand: bytes) -> str:
    """RFC 9562 UUIDv7 from a Unix time in milliseconds and 10 random bytes."""
    if len(rand) < 10:
        raise ValueError("uuid7 needs 10 random bytes")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76
    value |= (int.from_bytes(rand[:2], "big") & 0x0FFF) << 64
    value |= 0b10 << 62
    value |= int.from_bytes(rand[2:10], "big") & 0x3FFF_FFFF_FFFF_FFFF
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid7_ms(text: str) -> int:
    """The millisecond timestamp inside a UUIDv7."""
    return int(text.replace("-", "")[:12], 16)


class Uuid7Source:
    """UUIDv7s that sort in the order they are made, even within one millisecond."""

    def __init__(
        self,
        *,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        randbytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._clock_ms = clock_ms
        self._randbytes = randbytes
        self._last_ms = -1
        self._seq = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        """The next identifier."""
        with self._lock:
            ms = self._clock_ms()
            rand = self._randbytes(10)
            if ms <= self._last_ms:
                # Same (or an earlier) millisecond: keep the last one and count up in the
                # 12 bits of rand_a, so the order of birth is the order of the ids.
                ms = self._last_ms
                self._seq += 1
                if self._seq > 0x0FFF:
                    ms += 1
                    self._seq = 0
            else:
                self._seq = int.from_bytes(rand[:2], "big") & 0x03FF
            self._last_ms = ms
            return uuid7(ms, self._seq.to_bytes(2, "big") + rand[2:])


# -- from engine commands to entries -------------------------------------------------------------


def _reason_text(reason: Reason) -> str:
    return str(reason)


class Journaling:
    """Turns the engine's commands into journal entries (one per command worth keeping)."""

    def __init__(
        self,
        *,
        new_id: Callable[[], str],
        epoch: Callable[[], int] = lambda: 0,
        call_of: Callable[[CallId], CallView | None] = lambda _cid: None,
    ) -> None:
        self.new_id = new_id
        self.epoch = epoch
        self.call_of = call_of

    def entry(self, kind: EntryKind, at: float, **fields: Scalar) -> JournalEntry:
        """A new entry of ``kind`` with its fresh identifier and the current epoch."""
        return JournalEntry(id=self.new_id(), kind=kind, at=at, epoch=self.epoch(), fields=fields)

    def entries(
        self, commands: Iterable[Command], *, now: float, config_version: str
    ) -> list[JournalEntry]:
        """The entries for one decision's commands (PBX actions, records, rule changes)."""
        out: list[JournalEntry] = []
        for cmd in commands:
            e = self._one(cmd, now, config_version)
            if e is not None:
                out.append(e)
        return out

    def _one(self, cmd: Command, now: float, version: str) -> JournalEntry | None:
        if isinstance(cmd, CallRecord):
            return self._call(cmd)
        if isinstance(cmd, AgentRecord):
            return self.entry(
                EntryKind.AGENT,
                cmd.at,
                agent=cmd.agent,
                state=cmd.state.value,
                previous=cmd.previous.value,
                pause_reason=cmd.pause_reason,
                reason=_reason_text(cmd.reason),
            )
        return self._decision(cmd, now, version)

    def _call(self, cmd: CallRecord) -> JournalEntry:
        view = self.call_of(cmd.call)
        first = cmd.previous is None
        return self.entry(
            EntryKind.CALL,
            cmd.at,
            call=cmd.call,
            dept=cmd.dept,
            queue=cmd.queue,
            state=cmd.state.value,
            previous=None if cmd.previous is None else cmd.previous.value,
            agent=cmd.agent,
            priority=view.priority if view is not None and first else None,
            caller=view.caller or None if view is not None and first else None,
            origin=view.origin if view is not None else None,
            path=">".join(view.path) if view is not None and view.path else None,
            arrived_at=view.arrived_at if view is not None else None,
            reason=_reason_text(cmd.reason),
        )

    def _decision(self, cmd: Command, now: float, version: str) -> JournalEntry | None:
        fields: dict[str, Scalar]
        if isinstance(cmd, OfferCall):
            fields = {"call": cmd.call, "action": "offer", "route": cmd.route, "agent": cmd.agent}
            fields["target"] = cmd.endpoint
        elif isinstance(cmd, OverflowCall):
            fields = {"call": cmd.call, "action": "overflow", "route": cmd.route}
            fields["target"] = cmd.partner
        elif isinstance(cmd, SendToFallback):
            fields = {"call": cmd.call, "action": "fallback", "route": cmd.route}
        elif isinstance(cmd, MoveCall):
            fields = {"call": cmd.call, "action": "move", "target": cmd.dept}
        elif isinstance(cmd, VerifyRoute):
            fields = {"call": cmd.call, "action": "verify", "route": cmd.route}
        elif isinstance(cmd, OverflowHeld):
            fields = {"dept": cmd.dept, "action": "held", "target": cmd.rule}
        elif isinstance(cmd, RuleChanged):
            fields = {"dept": cmd.dept, "action": "rule-on" if cmd.active else "rule-off"}
            fields["target"] = cmd.rule
        else:
            return None
        call = fields.get("call")
        if call is not None and "dept" not in fields:
            view = self.call_of(CallId(str(call)))
            fields["dept"] = view.dept if view is not None else None
        fields["rule"] = cmd.reason.rule
        fields["reason"] = _reason_text(cmd.reason)
        fields["config_version"] = version
        return self.entry(EntryKind.DECISION, now, **fields)
