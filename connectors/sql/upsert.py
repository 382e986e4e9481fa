"""Idempotent writes per dialect: ON CONFLICT on PostgreSQL and SQLite, MERGE on Oracle.

The merge rules of ``connectors.sql.rows`` are written here once more as SQL expressions over
the stored row (``old``) and the incoming one (``new``); the same expressions feed the
``ON CONFLICT DO UPDATE`` of PostgreSQL and SQLite and the ``MERGE`` of Oracle. In every
dialect the ``SET`` expressions read the row as it was before the update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from connectors.sql.schema import call, callback

Columns = Any
"""A table's column collection, the stored row's or the incoming row's (``excluded``)."""
Rules = Callable[[Columns, Columns], dict[str, ColumnElement[Any]]]

ORACLE = "oracle"
"""The one dialect without ``INSERT ... ON CONFLICT``: it gets ``MERGE``."""


def _earliest(old: ColumnElement[Any], new: ColumnElement[Any]) -> ColumnElement[Any]:
    # LEAST/MIN treat NULL differently in each database: spell the rule out.
    return sa.case((new.is_(None), old), (old.is_(None), new), (new < old, new), else_=old)


def _first(old: ColumnElement[Any], new: ColumnElement[Any]) -> ColumnElement[Any]:
    return sa.func.coalesce(old, new)


def _longest(old: ColumnElement[Any], new: ColumnElement[Any]) -> ColumnElement[Any]:
    longer = sa.func.length(new) > sa.func.length(old)
    return sa.case((sa.and_(new.is_not(None), sa.or_(old.is_(None), longer)), new), else_=old)


def call_rules(old: Columns, new: Columns) -> dict[str, ColumnElement[Any]]:
    """``acd_call``: the stored record joined with an incoming one (``CallRow.join``)."""
    newer = sa.or_(
        old.updated_s.is_(None),
        new.updated_s > old.updated_s,
        sa.and_(new.updated_s == old.updated_s, new.last_entry > old.last_entry),
    )
    end_wins = sa.and_(
        new.ended_s.is_not(None),
        sa.or_(
            old.ended_s.is_(None),
            new.ended_s > old.ended_s,
            sa.and_(new.ended_s == old.ended_s, new.outcome > old.outcome),
        ),
    )
    rules: dict[str, ColumnElement[Any]] = {}
    for name in ("dept", "queue", "state"):
        rules[name] = sa.case(
            (newer, sa.func.coalesce(new[name], old[name])),
            else_=sa.func.coalesce(old[name], new[name]),
        )
    for name in ("priority", "caller", "origin", "agent"):
        rules[name] = _first(old[name], new[name])
    rules["path"] = _longest(old.path, new.path)
    for name in ("arrived_s", "offered_s", "answered_s"):
        rules[name] = _earliest(old[name], new[name])
    rules["ended_s"] = sa.case((end_wins, new.ended_s), else_=old.ended_s)
    rules["outcome"] = sa.case((end_wins, new.outcome), else_=old.outcome)
    rules["updated_s"] = sa.case((newer, new.updated_s), else_=old.updated_s)
    rules["last_entry"] = sa.case((newer, new.last_entry), else_=old.last_entry)
    return rules


def callback_rules(old: Columns, new: Columns) -> dict[str, ColumnElement[Any]]:
    """``acd_callback``: where and when it was abandoned, and the latest status."""
    newer = sa.and_(
        new.updated_s.is_not(None),
        sa.or_(old.updated_s.is_(None), new.updated_s > old.updated_s),
    )
    rules: dict[str, ColumnElement[Any]] = {
        name: _first(old[name], new[name]) for name in ("dept", "caller", "wait_s")
    }
    rules["abandoned_s"] = _earliest(old.abandoned_s, new.abandoned_s)
    for name in ("status", "updated_s", "updated_by"):
        rules[name] = sa.case((newer, new[name]), else_=old[name])
    return rules


MERGED: dict[str, Rules] = {call.name: call_rules, callback.name: callback_rules}
"""The derived tables and the rules that merge a row into them."""


def _key(table: sa.Table) -> sa.Column[Any]:
    (key,) = table.primary_key.columns
    return key


def _insert(table: sa.Table, dialect: str) -> postgresql.Insert | sqlite.Insert:
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_new(table: sa.Table, dialect: Dialect, *, merge: bool) -> sa.Executable:
    """Insert entry rows, skipping ids already stored; the new ids come back (not with MERGE)."""
    if merge:
        return sa.text(merge_sql(table, dialect)).bindparams(*_binds(table))
    stmt = _insert(table, dialect.name).on_conflict_do_nothing(index_elements=[_key(table)])
    return stmt.returning(_key(table))


def upsert(table: sa.Table, dialect: Dialect, *, merge: bool) -> sa.Executable:
    """Insert derived rows, or merge each into the stored one with the table's rules."""
    if merge:
        return sa.text(merge_sql(table, dialect, MERGED[table.name])).bindparams(*_binds(table))
    stmt = _insert(table, dialect.name)
    return stmt.on_conflict_do_update(
        index_elements=[_key(table)], set_=MERGED[table.name](table.c, stmt.excluded)
    )


def _binds(table: sa.Table) -> list[sa.BindParameter[Any]]:
    return [sa.bindparam(c.name, type_=c.type) for c in table.columns]


def merge_sql(table: sa.Table, dialect: Dialect, rules: Rules | None = None) -> str:
    """The ``MERGE`` for one row of ``table`` (bind names are the column names).

    Without ``rules`` the row is inserted only when its key is new. The incoming values are
    cast to the column types: an untyped ``NULL`` bind would otherwise make Oracle's ``CASE``
    mix a string with a number. ``FROM dual`` is Oracle's one-row table.
    """
    key = _key(table).name
    names = [c.name for c in table.columns]
    values = []
    for c in table.columns:
        if isinstance(c.type, sa.Text):  # a CLOB bind is already a CLOB
            values.append(f":{c.name} AS {c.name}")
        else:
            values.append(f"CAST(:{c.name} AS {c.type.compile(dialect=dialect)}) AS {c.name}")
    # Every name comes from the schema and every value is a bind: nothing else goes in.
    sql = [
        f"MERGE INTO {table.name} t",
        "USING (SELECT " + ", ".join(values) + " FROM dual) s",  # noqa: S608 - see above
        f"ON (t.{key} = s.{key})",
    ]
    if rules is not None:
        old, new = table.alias("t"), table.alias("s")
        sets = [f"{name} = {_render(e, dialect)}" for name, e in rules(old.c, new.c).items()]
        sql.append("WHEN MATCHED THEN UPDATE SET " + ", ".join(sets))
    sql.append("WHEN NOT MATCHED THEN INSERT (" + ", ".join(names) + ")")
    sql.append("VALUES (" + ", ".join("s." + n for n in names) + ")")
    return "\n".join(sql)


def _render(expr: ColumnElement[Any], dialect: Dialect) -> str:
    return str(expr.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def fill_from_calls(call_ids: list[str]) -> sa.Update:
    """Complete worklist rows from their calls' records: the caller, and the wait."""
    record = sa.select(call.c.caller).where(call.c.call_id == callback.c.call_id)
    arrived = sa.select(call.c.arrived_s).where(call.c.call_id == callback.c.call_id)
    return (
        sa.update(callback)
        .where(callback.c.call_id.in_(call_ids))
        .where(sa.or_(callback.c.caller.is_(None), callback.c.wait_s.is_(None)))
        .values(
            caller=sa.func.coalesce(callback.c.caller, record.scalar_subquery()),
            wait_s=sa.func.coalesce(
                callback.c.wait_s, callback.c.abandoned_s - arrived.scalar_subquery()
            ),
        )
    )
