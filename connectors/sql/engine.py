"""From a journal URL to an async engine: one async driver per database, the password kept out.

Accepted URLs (the configuration's ``journal.url``), and the driver each one gets:

====================================  ========================================
``sqlite:///path``, ``sqlite://``     aiosqlite (a file; ``sqlite://`` in memory)
``memory://``                         aiosqlite, in memory (tests, trials)
``postgresql://``                     asyncpg
``postgresql+asyncpg://``             asyncpg
``postgresql+psycopg://``             psycopg 3, async
``oracle+oracledb://``                python-oracledb, async thin mode (no Oracle client)
====================================  ========================================

The password comes apart from the URL (a secret reference of the configuration) and is set
on the URL object only, which SQLAlchemy never prints; nothing here logs the URL with it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from connectors.sql.errors import UnsupportedJournalUrl

DRIVERS: dict[str, str] = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "memory": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    # SQLAlchemy picks the async variant of these two by itself under create_async_engine.
    "postgresql+psycopg": "postgresql+psycopg",
    "oracle+oracledb": "oracle+oracledb",
}
"""Configured scheme → the SQLAlchemy async driver used for it."""

INSERT_PAGE_ROWS = 100
"""Rows per multi-row INSERT statement (see ``bench/bench_journal.py``)."""

SQLITE_BUSY_TIMEOUT_MS = 5000
"""How long a SQLite writer waits for another one's lock before giving up (then retried)."""


def journal_url(url: str, *, password: str | None = None) -> URL:
    """The SQLAlchemy URL of a configured journal URL, with its async driver and password."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    driver = DRIVERS.get(scheme)
    if driver is None:
        raise UnsupportedJournalUrl(
            f"unsupported journal URL scheme {scheme!r}: expected one of "
            + ", ".join(sorted(s for s in DRIVERS if s != "sqlite+aiosqlite"))
        )
    if scheme == "memory":
        return make_url("sqlite+aiosqlite://")
    parsed = make_url(url).set(drivername=driver)
    if password is not None:
        parsed = parsed.set(password=password)
    return parsed


def in_memory(url: URL) -> bool:
    """Whether the URL is an in-memory SQLite database (one shared connection)."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def make_engine(url: URL, **options: Any) -> AsyncEngine:
    """An async engine with pre-ping (a restarted database breaks pooled connections)."""
    options.setdefault("pool_pre_ping", True)
    # A database error must not print the statement's values into the logs: they carry
    # callers' numbers (the journal's ``caller`` columns).
    options.setdefault("hide_parameters", True)
    # A batch's inserts go out as multi-row INSERTs of this many rows: measured on PostgreSQL,
    # 100 rows per statement doubles asyncpg's rate over SQLAlchemy's default of 1000.
    options.setdefault("insertmanyvalues_page_size", INSERT_PAGE_ROWS)
    if in_memory(url):
        # Every session must see the same memory database: one connection, kept.
        options.setdefault("poolclass", StaticPool)
    engine = create_async_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (reports, the console) run while the writer commits; the busy timeout
    # makes a second writer wait for the lock instead of failing at once. Synchronous stays
    # FULL: a committed batch is acknowledged to the outbox, so it must survive a power cut.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
