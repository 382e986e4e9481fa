"""The journal's tables in one ``MetaData``: names fit Oracle's 30 characters, types fit all.

Portability rules every table follows:

- every table, column, constraint and index name is at most 30 characters (Oracle before
  12.2), and none is a reserved word anywhere (nothing needs quoting in a report's SQL);
- strings are ``VARCHAR(n)`` with explicit lengths of at most 1000 characters (Oracle's
  ``VARCHAR2`` holds 4000 bytes; 1000 characters fit whatever the encoding); the writer
  clips longer values, so a long reason can never block the journal; ``CLOB``/``TEXT`` only
  for free-form documents (audit details, configuration versions);
- no ``BOOLEAN`` (Oracle before 23ai has none) and no ``ENUM`` (a check constraint per
  dialect): states and statuses are short strings, validated by the code that writes them;
- ``''`` is never stored: the writer turns empty strings into ``NULL``, as Oracle would;
- times are epoch seconds in an IEEE double (``*_s`` columns, ``BINARY_DOUBLE`` on Oracle):
  the same type in every database, no time zone to convert, an exact round trip of the
  entry's ``at`` and microsecond resolution for centuries. Reports convert with
  ``to_timestamp(at_s)`` (PostgreSQL) or ``datetime(at_s, 'unixepoch')`` (SQLite). The
  lease's times too (``expires_s``, ``started_s``): they come from the database's own clock
  (``connectors.sql.lease``) but are stored in the same unit, so a fenced entry's ``at_s``
  and the epoch start that fenced it compare directly.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import oracle

from acd.journal import EntryKind

NAMING_CONVENTION: dict[str, str] = {
    "pk": "pk_%(table_name)s",
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
}
"""Constraint and index names made from short table and column names (all ≤ 30 chars)."""

MAX_IDENTIFIER = 30
"""Oracle's limit before 12.2, kept for every database so one schema fits them all."""

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

Seconds: sa.types.TypeEngine[float] = sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle")
"""Epoch seconds: an IEEE double everywhere (Oracle's FLOAT would be a decimal NUMBER)."""

ID = 36
"""A UUIDv7 in its text form."""
NAME = 64
"""Call, agent, queue and route identifiers, caller numbers."""
DEPT = 32
STATE = 16
PERSON = 128
LABEL = 255
REASON = 1000


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(ID), primary_key=True)


def _stamp() -> list[sa.Column[float] | sa.Column[int]]:
    return [
        sa.Column("at_s", Seconds, nullable=False, index=True),
        sa.Column("epoch", sa.Integer, nullable=False),
    ]


def _text(name: str, length: int, *, index: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=True, index=index)


# -- one table per entry kind, keyed by the entry's UUIDv7 ---------------------------------------

call_event = sa.Table(
    "acd_call_event",
    metadata,
    _id(),
    *_stamp(),
    _text("call_id", NAME, index=True),
    _text("dept", DEPT),
    _text("queue", NAME),
    _text("state", STATE),
    _text("previous", STATE),
    _text("agent", NAME),
    _text("priority", DEPT),
    _text("caller", NAME),
    _text("origin", DEPT),
    _text("path", LABEL),
    sa.Column("arrived_s", Seconds),
    _text("reason", REASON),
)

decision = sa.Table(
    "acd_decision",
    metadata,
    _id(),
    *_stamp(),
    _text("call_id", NAME, index=True),
    _text("dept", DEPT),
    _text("action", STATE),
    _text("route", NAME),
    _text("agent", NAME),
    _text("target", PERSON),
    _text("rule", PERSON),
    _text("reason", REASON),
    _text("config_version", NAME),
)

agent_state = sa.Table(
    "acd_agent_state",
    metadata,
    _id(),
    *_stamp(),
    _text("agent", NAME, index=True),
    _text("state", STATE),
    _text("previous", STATE),
    _text("pause_reason", PERSON),
    _text("reason", REASON),
)

audit = sa.Table(
    "acd_audit",
    metadata,
    _id(),
    *_stamp(),
    _text("actor", PERSON),
    _text("role", DEPT),
    _text("action", NAME),
    _text("target", LABEL),
    sa.Column("details", sa.Text),
    _text("source", PERSON),
)

config_version = sa.Table(
    "acd_config_version",
    metadata,
    _id(),
    *_stamp(),
    _text("version", NAME),
    _text("path", LABEL),
    sa.Column("detail", sa.Text),
)

callback_event = sa.Table(
    "acd_callback_event",
    metadata,
    _id(),
    *_stamp(),
    _text("call_id", NAME, index=True),
    _text("status", STATE),
    _text("actor", PERSON),
    _text("note", REASON),
)

ENTRY_TABLES: dict[EntryKind, sa.Table] = {
    EntryKind.CALL: call_event,
    EntryKind.DECISION: decision,
    EntryKind.AGENT: agent_state,
    EntryKind.AUDIT: audit,
    EntryKind.CONFIG: config_version,
    EntryKind.CALLBACK: callback_event,
}
"""Where each kind of entry goes."""

RENAMED: dict[str, str] = {"call": "call_id", "arrived_at": "arrived_s"}
"""Entry fields stored under another column name (``call`` is an SQL keyword)."""

# -- derived tables, maintained by the writer from the entries ------------------------------------

call = sa.Table(
    "acd_call",
    metadata,
    sa.Column("call_id", sa.String(NAME), primary_key=True),
    _text("dept", DEPT, index=True),
    _text("queue", NAME),
    _text("state", STATE),
    _text("priority", DEPT),
    _text("caller", NAME),
    _text("origin", DEPT),
    _text("path", LABEL),
    sa.Column("arrived_s", Seconds, index=True),
    sa.Column("offered_s", Seconds),
    sa.Column("answered_s", Seconds),
    sa.Column("ended_s", Seconds),
    _text("outcome", STATE),
    _text("agent", NAME),
    sa.Column("updated_s", Seconds),
    _text("last_entry", ID),
)

callback = sa.Table(
    "acd_callback",
    metadata,
    sa.Column("call_id", sa.String(NAME), primary_key=True),
    _text("dept", DEPT, index=True),
    _text("caller", NAME, index=True),
    sa.Column("abandoned_s", Seconds),
    sa.Column("wait_s", Seconds),
    _text("status", STATE),
    sa.Column("updated_s", Seconds),
    _text("updated_by", PERSON),
)

# -- leadership (``connectors.sql.lease``) and the entries it fenced out ------------------------

lease = sa.Table(
    "acd_lease",
    metadata,
    sa.Column("name", sa.String(NAME), primary_key=True),
    sa.Column("holder", sa.String(PERSON), nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("expires_s", Seconds, nullable=False),
)
"""One row per lease: who holds it, since which epoch, until when (database clock)."""

lease_epoch = sa.Table(
    "acd_lease_epoch",
    metadata,
    sa.Column("name", sa.String(NAME), primary_key=True),
    sa.Column("epoch", sa.Integer, primary_key=True),
    sa.Column("holder", sa.String(PERSON), nullable=False),
    sa.Column("started_s", Seconds, nullable=False),
)
"""When each epoch began and who took it: the journal's fence, and the audit of who led when."""

fenced_entry = sa.Table(
    "acd_fenced_entry",
    metadata,
    _id(),
    sa.Column("kind", sa.String(STATE), nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("at_s", Seconds, nullable=False, index=True),
    sa.Column("newer_epoch", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)
"""Entries refused as stale: made after a newer epoch began (``body`` is the encoded entry)."""

CALLBACK_STATUSES = ("to-call-back", "called-back", "reached", "not-reached")
"""The worklist's statuses; a new abandoned call starts at the first."""


def identifiers(table: sa.Table) -> list[str]:
    """Every name the table puts in a database: its own, columns', constraints', indexes'."""
    names = [table.name, *(c.name for c in table.columns)]
    names += [str(c.name) for c in table.constraints if c.name is not None]
    names += [str(i.name) for i in table.indexes if i.name is not None]
    return names
