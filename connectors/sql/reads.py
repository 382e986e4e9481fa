"""The journal's reads (console, reports): one portable ``SELECT`` each, newest first, capped.

Every read is built from the tables with plain equality and range filters, so SQLAlchemy
renders the same query for SQLite, PostgreSQL and Oracle; lists are ordered with a unique
tie-break (the entry's UUIDv7 id after its time, or the epoch) so pages never shuffle, and
cut by a row limit (``LIMIT``, Oracle's ``FETCH FIRST``) of at most ``MAX_ROWS``: a console
page never pulls a whole table. ``JournalReads`` runs them; ``SqlJournal`` inherits it, so
reads and writes share one pool and one error boundary (``JournalUnavailable``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.journal import EntryKind
from connectors.sql.errors import JournalUnavailable
from connectors.sql.schema import (
    CALLBACK_STATUSES,
    ENTRY_TABLES,
    agent_state,
    audit,
    call,
    callback,
    decision,
    lease,
    lease_epoch,
)

Doc = dict[str, Any]

MAX_ROWS = 1000
"""The most rows any read returns, whatever limit it is given."""
PING_TIMEOUT_S = 5.0
"""How long a ping waits for the database before calling it unavailable."""

PING: sa.Select[Any] = sa.select(sa.literal_column("1"))
"""The cheapest round trip: ``SELECT 1`` (``SELECT 1 FROM DUAL`` on Oracle)."""


def capped(limit: int) -> int:
    """A read's row limit, at most ``MAX_ROWS``; below 1 is a mistake of the caller."""
    if limit < 1:
        raise ValueError(f"a limit counts rows: at least 1, not {limit}")
    return min(limit, MAX_ROWS)


def _newest_first(query: sa.Select[Any], table: sa.Table, limit: int) -> sa.Select[Any]:
    return query.order_by(table.c.at_s.desc(), table.c.id.desc()).limit(capped(limit))


def audit_query(
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since_s: float | None = None,
    until_s: float | None = None,
    limit: int = 200,
) -> sa.Select[Any]:
    """``acd_audit`` rows matching every filter given, newest first."""
    exact = {"actor": actor, "action": action, "target": target}
    query = sa.select(audit).where(*(audit.c[k] == v for k, v in exact.items() if v is not None))
    if since_s is not None:
        query = query.where(audit.c.at_s >= since_s)
    if until_s is not None:
        query = query.where(audit.c.at_s < until_s)
    return _newest_first(query, audit, limit)


def decisions_query(
    *, dept: str | None = None, call_id: str | None = None, limit: int = 50
) -> sa.Select[Any]:
    """``acd_decision`` rows of a department and/or a call, newest first."""
    query = sa.select(decision)
    if dept is not None:
        query = query.where(decision.c.dept == dept)
    if call_id is not None:
        query = query.where(decision.c.call_id == call_id)
    return _newest_first(query, decision, limit)


def agent_history_query(agent: str, *, limit: int = 50) -> sa.Select[Any]:
    """``acd_agent_state`` rows of one agent, newest first."""
    return _newest_first(
        sa.select(agent_state).where(agent_state.c.agent == agent), agent_state, limit
    )


def call_record_query(call_id: str) -> sa.Select[Any]:
    """A call's ``acd_call`` row."""
    return sa.select(call).where(call.c.call_id == call_id)


def lease_holder_query(name: str) -> sa.Select[Any]:
    """The lease's one row: who holds it, its epoch, until when (database clock)."""
    return sa.select(lease.c.holder, lease.c.epoch, lease.c.expires_s).where(lease.c.name == name)


def epochs_query(name: str, *, limit: int = 20) -> sa.Select[Any]:
    """The lease's latest epochs, newest first: who led from when."""
    return (
        sa.select(lease_epoch.c.epoch, lease_epoch.c.holder, lease_epoch.c.started_s)
        .where(lease_epoch.c.name == name)
        .order_by(lease_epoch.c.epoch.desc())
        .limit(capped(limit))
    )


WORKLIST_ROWS = 20 * MAX_ROWS
"""The most worklist rows one read brings back (the newest): a console never pulls a year."""


def callbacks_query(dept: str | None = None, *, since_s: float | None = None) -> sa.Select[Any]:
    """Worklist rows of abandoned calls, newest first, at most ``WORKLIST_ROWS``."""
    query = sa.select(callback).where(callback.c.abandoned_s.is_not(None))
    if dept is not None:
        query = query.where(callback.c.dept == dept)
    if since_s is not None:
        query = query.where(callback.c.abandoned_s >= since_s)
    order = (callback.c.abandoned_s.desc(), callback.c.call_id.desc())
    return query.order_by(*order).limit(WORKLIST_ROWS)


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def day_figures_query(
    since_s: float,
    *,
    target_s: float,
    short_abandon_s: float,
    short_abandon_by_dept: Mapping[str, float] | None = None,
) -> sa.Select[Any]:
    """Per department, calls arrived since ``since_s``: answered, within target, abandoned.

    An abandon counts once it waited ``short_abandon_s``, or its department's own threshold.
    """
    c = call.c
    short: Any = (
        sa.case(dict(short_abandon_by_dept), value=c.dept, else_=short_abandon_s)
        if short_abandon_by_dept
        else short_abandon_s
    )
    return (
        sa.select(
            c.dept,
            sa.func.count().label("entered"),
            _count_if(c.answered_s.is_not(None)).label("answered"),
            _count_if(c.answered_s - c.arrived_s <= target_s).label("within_target"),
            _count_if(sa.and_(c.outcome == "abandoned", c.ended_s - c.arrived_s >= short)).label(
                "abandoned"
            ),
            _count_if(c.outcome == "overflowed").label("overflowed_out"),
        )
        .where(c.arrived_s >= since_s)
        .group_by(c.dept)
        .order_by(c.dept)
    )


def statements() -> Mapping[str, sa.Select[Any]]:
    """Every read, each filter on, for review and the dialect tests."""
    return {
        "audit": audit_query(actor="a", action="b", target="c", since_s=0.0, until_s=1.0),
        "decisions": decisions_query(dept="75", call_id="c-1"),
        "agent_history": agent_history_query("arm-1"),
        "lease_holder": lease_holder_query("acd"),
        "epochs": epochs_query("acd"),
        "callbacks": callbacks_query("75", since_s=0.0),
        "call_record": call_record_query("c-1"),
        "count": sa.select(sa.func.count()).select_from(audit),
        "ping": PING,
        "day_figures": day_figures_query(
            0.0, target_s=60.0, short_abandon_s=5.0, short_abandon_by_dept={"75": 3.0}
        ),
    }


class JournalReads:
    """The journal's reads; ``SqlJournal`` inherits them with its engine and error boundary."""

    _engine: AsyncEngine
    _where: str

    def _boundary(self, doing: str) -> AbstractContextManager[None]:
        """Library errors to ``JournalUnavailable`` when retryable (``SqlJournal`` defines it)."""
        raise NotImplementedError

    def _missing_file(self) -> str | None:
        """Why the database's file cannot be opened, if it is a file (``SqlJournal``)."""
        return None

    async def _rows(self, doing: str, query: sa.Select[Any]) -> list[Doc]:
        with self._boundary(doing):
            async with self._engine.connect() as conn:
                return [dict(row) for row in (await conn.execute(query)).mappings()]

    async def count(self, kind: EntryKind) -> int:
        """How many entries of this kind are stored."""
        query = sa.select(sa.func.count()).select_from(ENTRY_TABLES[kind])
        with self._boundary("counting entries"):
            async with self._engine.connect() as conn:
                found = await conn.scalar(query)
        return int(found or 0)

    async def call_record(self, call_id: str) -> Doc | None:
        """A call's record (``acd_call`` columns), ``None`` if no entry of it was written."""
        rows = await self._rows("reading a call record", call_record_query(call_id))
        return rows[0] if rows else None

    async def callbacks(
        self,
        dept: str | None = None,
        *,
        since_s: float | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[Doc]:
        """The callback worklist, oldest first: one item per caller number.

        Abandoned calls from the same number are one item (the latest call, its status),
        with ``repeats`` (how many calls), ``first_abandoned_s`` and every ``call_ids``;
        calls without a number stay one item each. ``status`` keeps the items whose merged
        status it is (one of ``CALLBACK_STATUSES``); ``limit`` keeps the oldest items.
        """
        if status is not None and status not in CALLBACK_STATUSES:
            raise ValueError(f"unknown callback status {status!r}: one of {CALLBACK_STATUSES}")
        query = callbacks_query(dept, since_s=since_s)
        rows = await self._rows("reading the callback worklist", query)
        items = by_caller(rows[::-1])  # oldest first, as the merge expects
        if status is not None:
            items = [item for item in items if item["status"] == status]
        return items if limit is None else items[: capped(limit)]

    async def audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since_s: float | None = None,
        until_s: float | None = None,
        limit: int = 200,
    ) -> list[Doc]:
        """Who did what, newest first (``acd_audit`` columns; ``details`` as written).

        ``actor``, ``action`` and ``target`` match exactly; ``since_s <= at_s < until_s``.
        """
        query = audit_query(
            actor=actor, action=action, target=target, since_s=since_s, until_s=until_s, limit=limit
        )
        return await self._rows("reading the audit trail", query)

    async def decisions(
        self, *, dept: str | None = None, call_id: str | None = None, limit: int = 50
    ) -> list[Doc]:
        """Routing decisions, newest first (``acd_decision`` columns), of a dept and/or call."""
        query = decisions_query(dept=dept, call_id=call_id, limit=limit)
        return await self._rows("reading routing decisions", query)

    async def day_figures(
        self,
        since_s: float,
        *,
        target_s: float,
        short_abandon_s: float,
        short_abandon_by_dept: Mapping[str, float] | None = None,
    ) -> dict[str, Doc]:
        """Per department, the calls arrived since ``since_s`` (e.g. local midnight).

        ``entered``, ``answered``, ``within_target`` (answered within ``target_s`` of their
        arrival), ``abandoned`` (after ``short_abandon_s`` or more) and ``overflowed_out``:
        the day's service level survives restarts and failovers, unlike the engine's
        counters, which start at zero with the process.
        """
        query = day_figures_query(
            since_s,
            target_s=target_s,
            short_abandon_s=short_abandon_s,
            short_abandon_by_dept=short_abandon_by_dept,
        )
        rows = await self._rows("reading the day's figures", query)
        return {
            str(r["dept"]): {k: int(v or 0) for k, v in r.items() if k != "dept"}
            for r in rows
            if r["dept"] is not None
        }

    async def agent_history(self, agent: str, *, limit: int = 50) -> list[Doc]:
        """An agent's state changes, newest first (``acd_agent_state`` columns)."""
        return await self._rows(
            "reading an agent's history", agent_history_query(agent, limit=limit)
        )

    async def lease_holder(self, name: str) -> Doc | None:
        """The lease ``name``: ``holder``, ``epoch``, ``expires_s``; ``None`` if never taken."""
        rows = await self._rows("reading the lease", lease_holder_query(name))
        return rows[0] if rows else None

    async def epochs(self, name: str, *, limit: int = 20) -> list[Doc]:
        """The lease's epochs, newest first: ``epoch``, ``holder``, ``started_s``."""
        return await self._rows("reading the lease's epochs", epochs_query(name, limit=limit))

    async def ping(self, *, timeout_s: float = PING_TIMEOUT_S) -> float:
        """One ``SELECT 1``; returns the seconds its round trip took (once connected).

        Any failure to answer within ``timeout_s`` raises ``JournalUnavailable``, whatever
        the cause (refused, timed out, unknown database, bad password): for the console the
        journal is down either way, and the message says why.
        """
        missing = self._missing_file()
        if missing is not None:
            # Not even tried: a failed SQLite open leaves its worker thread behind, and the
            # system page pings every few seconds.
            raise JournalUnavailable(f"pinging {self._where}: {missing}")
        try:
            async with asyncio.timeout(timeout_s), self._engine.connect() as conn:
                started = time.perf_counter()
                await conn.execute(PING)
                return time.perf_counter() - started
        except TimeoutError as err:
            raise JournalUnavailable(
                f"pinging {self._where}: no answer in {timeout_s:g} s"
            ) from err
        except sa_exc.DBAPIError as err:
            raise JournalUnavailable(f"pinging {self._where}: {err.orig}") from err
        except (OSError, sa_exc.DisconnectionError, sa_exc.TimeoutError) as err:
            raise JournalUnavailable(f"pinging {self._where}: {err}") from err


def by_caller(rows: list[Doc]) -> list[Doc]:
    """Worklist rows (oldest first) merged per caller number: the latest call stands for all."""
    groups: dict[str, list[Doc]] = {}
    for row in rows:
        # A call without a number cannot be matched with another: it keeps a group of its own.
        groups.setdefault(row["caller"] or f"\0{row['call_id']}", []).append(row)
    items = []
    for calls in groups.values():
        item = dict(calls[-1])
        item["repeats"] = len(calls)
        item["first_abandoned_s"] = calls[0]["abandoned_s"]
        item["call_ids"] = [c["call_id"] for c in calls]
        items.append(item)
    items.sort(key=lambda i: (i["abandoned_s"], i["call_id"]))
    return items
