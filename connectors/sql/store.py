"""``SqlJournal``: the durable journal in SQL; one transaction per batch, every insert idempotent.

A batch is written whole or not at all: its entries (keyed by their UUIDv7, so a retried
batch keeps one row each), then the call records and the callback worklist merged from
them. A database that cannot answer raises ``JournalUnavailable`` (the outbox keeps the
batch and retries); any other error is a bug and propagates as it is.

Fencing: an entry is *stale* when an epoch newer than its own (of the lease ``lease_name``,
see ``connectors.sql.lease``) had started more than ``fence_tolerance_s`` before the
entry's ``at``: an instance made it after losing the lease. Stale entries go to
``acd_fenced_entry`` instead (idempotent, counted, logged) and the batch succeeds, so the
outbox acknowledges them. Entries of an old epoch made *before* the takeover are written
as usual: a leader that dies with a backlog loses nothing. The tolerance covers the skew
between the host clock that stamped ``at`` and the database clock that stamped the start.
Epoch 0 is never stale: it marks an instance that claims no leadership (a standby loading
its configuration, a single instance without the lease); a leader that loses the lease
keeps writing with the epoch it had, and that is what the fence catches.
"""

from __future__ import annotations

import logging
import sqlite3
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from acd.journal import JournalEntry
from connectors.sql import migrate
from connectors.sql.engine import in_memory, journal_url, make_engine
from connectors.sql.errors import JournalUnavailable
from connectors.sql.reads import JournalReads
from connectors.sql.rows import BatchPlan, Row, plan_batch
from connectors.sql.schema import ENTRY_TABLES, call, callback, fenced_entry, lease_epoch
from connectors.sql.upsert import ORACLE, fill_from_calls, insert_new, upsert

log = logging.getLogger(__name__)

FILL_CHUNK = 500
"""Call ids per ``IN`` list: Oracle refuses more than 1000 expressions in one."""
LEASE = "acd"
"""The lease whose epochs fence the journal, unless configured otherwise."""
UNLEASED = 0
"""The epoch of entries written without the lease: never fenced."""
FENCE_TOLERANCE_S = 1.0
"""How far an entry's host clock may run ahead of the database's before it counts as stale."""

EPOCH_STARTS = (
    sa.select(lease_epoch.c.epoch, lease_epoch.c.started_s)
    .where(lease_epoch.c.name == sa.bindparam("lease_name", type_=sa.String))
    .where(lease_epoch.c.epoch > sa.bindparam("lowest_epoch", type_=sa.Integer))
    .order_by(lease_epoch.c.epoch)
)
"""The epochs newer than a batch's oldest, with their starts (by the database's clock)."""

_SQLITE_RETRYABLE = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_PROTOCOL,
    }
)
"""SQLite errors that a later retry can get past; "no such table" and the like cannot."""


def retryable(err: sa_exc.DBAPIError) -> bool:
    """Whether a database error may pass by itself (lost connection, lock, full disk...)."""
    if err.connection_invalidated:
        return True
    code = getattr(err.orig, "sqlite_errorcode", None)
    if code is not None:
        # Extended result codes (SQLITE_BUSY_SNAPSHOT...) keep the primary code in the low byte.
        return (int(code) & 0xFF) in _SQLITE_RETRYABLE
    return isinstance(err, sa_exc.OperationalError | sa_exc.InterfaceError)


class SqlJournal(JournalReads):
    """The journal store on SQLite, PostgreSQL or Oracle (``JournalStore``).

    Its reads (worklist, audit trail, decisions, the lease's state...) come from
    ``JournalReads`` (``connectors.sql.reads``).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        merge: bool | None = None,
        lease_name: str = LEASE,
        fence_tolerance_s: float = FENCE_TOLERANCE_S,
    ) -> None:
        """A journal on ``engine``; ``merge`` writes with ``MERGE`` (default: on Oracle only).

        PostgreSQL 15+ also runs ``MERGE`` (given a one-row ``dual`` view), which lets the
        tests run Oracle's statements for real. Entries are fenced by the epochs of the lease
        ``lease_name``, with ``fence_tolerance_s`` of clock skew allowed.
        """
        if fence_tolerance_s < 0:
            raise ValueError(f"the fence tolerance cannot be negative: {fence_tolerance_s} s")
        self._engine = engine
        self._dialect = engine.dialect
        self._merge = engine.dialect.name == ORACLE if merge is None else merge
        self._where = engine.url.render_as_string(hide_password=True)
        self._inserts = {
            kind: insert_new(t, self._dialect, merge=self._merge)
            for kind, t in ENTRY_TABLES.items()
        }
        self._upserts = {
            t.name: upsert(t, self._dialect, merge=self._merge) for t in (call, callback)
        }
        self._set_aside = insert_new(fenced_entry, self._dialect, merge=self._merge)
        self.lease_name = lease_name
        self.fence_tolerance_s = fence_tolerance_s
        self._fenced = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        password: str | None = None,
        lease_name: str = LEASE,
        fence_tolerance_s: float = FENCE_TOLERANCE_S,
        **engine_options: Any,
    ) -> SqlJournal:
        """A journal on the database at ``url`` (see ``connectors.sql.engine`` for the schemes).

        ``password`` is set apart from the URL, never shown; ``engine_options`` go to
        SQLAlchemy's ``create_async_engine`` (``connect_args``, pool sizes...).
        """
        engine = make_engine(journal_url(url, password=password), **engine_options)
        return cls(engine, lease_name=lease_name, fence_tolerance_s=fence_tolerance_s)

    def __repr__(self) -> str:
        return f"SqlJournal({self._where})"

    @property
    def where(self) -> str:
        """The database's URL, safe to print (no password)."""
        return self._where

    @property
    def engine(self) -> AsyncEngine:
        """The underlying engine (for the lease and reports sharing the pool)."""
        return self._engine

    @property
    def fenced(self) -> int:
        """Stale entries set aside in ``acd_fenced_entry`` since this journal was opened."""
        return self._fenced

    def statements(self) -> list[sa.Executable]:
        """Every statement a batch may run on this database, for review and dialect tests."""
        writes = [*self._inserts.values(), *self._upserts.values(), self._set_aside]
        return [EPOCH_STARTS, *writes, fill_from_calls(["call"])]

    @contextmanager
    def _boundary(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sa_exc.IntegrityError as err:
            if not self._merge:
                raise
            # MERGE is not atomic: another writer may insert the same key between its check
            # and its insert. The retry finds the row there and merges into it.
            raise JournalUnavailable(f"{doing} on {self._where}: {err.orig}") from err
        except sa_exc.DBAPIError as err:
            if not retryable(err):
                raise
            raise JournalUnavailable(f"{doing} on {self._where}: {err.orig}") from err
        except (OSError, sa_exc.DisconnectionError, sa_exc.TimeoutError) as err:
            # A refused connection (OSError) or an exhausted pool: the database is not there.
            raise JournalUnavailable(f"{doing} on {self._where}: {err}") from err

    # -- writing ---------------------------------------------------------------------------------

    async def write(self, entries: Sequence[JournalEntry]) -> int:
        """Write one batch in one transaction; returns how many entries were not there yet.

        Stale entries are set aside instead (see the module's rule) and never counted here.
        """
        plan = plan_batch(entries)
        if plan.size == 0:
            return 0
        with self._boundary("writing the journal"):
            async with self._engine.begin() as conn:
                stale = await self._stale(conn, entries)
                if stale:
                    plan = plan_batch([e for e in entries if e.id not in stale])
                new = await self._write(conn, plan)
                aside = await self._fence(conn, entries, stale) if stale else 0
        if stale:
            self._fenced += aside
            epochs = sorted({e.epoch for e in entries if e.id in stale})
            log.error(
                "journal: %d entries of epoch %s made after epoch %d of lease %r began: "
                "fenced into acd_fenced_entry (%d new)",
                len(stale), ", ".join(map(str, epochs)), min(stale.values()), self.lease_name,
                aside,
            )  # fmt: skip
        return new

    async def _stale(
        self, conn: AsyncConnection, entries: Sequence[JournalEntry]
    ) -> dict[str, int]:
        # Read with every batch, never cached: a cache would miss the very takeover that makes
        # this writer's entries stale. An epoch that begins after this read cannot fence them
        # anyway: they were made before the write began (within the tolerance).
        leased = [e.epoch for e in entries if e.epoch > UNLEASED]
        if not leased:
            return {}  # a single instance without the lease pays no read
        binds = {"lease_name": self.lease_name, "lowest_epoch": min(leased)}
        starts = [(r.epoch, r.started_s) for r in await conn.execute(EPOCH_STARTS, binds)]
        return stale_entries(entries, starts, tolerance_s=self.fence_tolerance_s)

    async def _fence(
        self, conn: AsyncConnection, entries: Sequence[JournalEntry], stale: dict[str, int]
    ) -> int:
        rows = {
            e.id: {
                "id": e.id, "kind": e.kind.value, "epoch": e.epoch, "at_s": float(e.at),
                "newer_epoch": stale[e.id], "body": e.encode().decode(),
            }
            for e in entries
            if e.id in stale
        }  # fmt: skip
        result = await conn.execute(self._set_aside, [rows[k] for k in sorted(rows)])
        return self._rowcount(result.rowcount) if self._merge else len(result.all())

    async def _write(self, conn: AsyncConnection, plan: BatchPlan) -> int:
        new = 0
        # One order for every writer (tables, then keys): concurrent batches lock rows in the
        # same order, so two instances writing during a takeover cannot deadlock.
        for kind in ENTRY_TABLES:
            rows = plan.entries.get(kind)
            if not rows:
                continue
            rows.sort(key=lambda r: str(r["id"]))
            result = await conn.execute(self._inserts[kind], rows)
            new += self._rowcount(result.rowcount) if self._merge else len(result.all())
        # Every rule of the merge is idempotent, so entries seen before are merged again
        # harmlessly: the records do not depend on which entries were new.
        if plan.calls:
            await conn.execute(self._upserts[call.name], _sorted(plan.calls))
        if plan.callbacks:
            await conn.execute(self._upserts[callback.name], _sorted(plan.callbacks))
        touched = sorted(plan.calls.keys() | plan.callbacks.keys())
        for start in range(0, len(touched), FILL_CHUNK):
            await conn.execute(fill_from_calls(touched[start : start + FILL_CHUNK]))
        return new

    def _rowcount(self, count: int) -> int:
        if count < 0:  # asyncpg reports none for executemany: MERGE needs psycopg or oracledb
            raise TypeError(f"{self._dialect.driver} does not count the rows MERGE inserted")
        return count

    # -- schema ----------------------------------------------------------------------------------

    async def create_schema(self) -> str:
        """Bring the schema to this code's revision (runs the migrations); returns it.

        For SQLite the file's directory is made first (the embedded default is a relative
        ``var/`` path).
        """
        sqlite_file = self._sqlite_file()
        if sqlite_file is not None:
            sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        with self._boundary("migrating the journal schema"):
            async with self._engine.begin() as conn:
                await conn.run_sync(migrate.upgrade)
                found = await conn.run_sync(migrate.current)
        assert found is not None  # the upgrade just wrote it
        return found

    async def revision(self) -> str | None:
        """The database's schema revision, ``None`` when it has no schema."""
        sqlite_file = self._sqlite_file()
        if sqlite_file is not None and not sqlite_file.exists():
            return None  # connecting would create the file: a question must not do that
        with self._boundary("reading the journal schema revision"):
            async with self._engine.connect() as conn:
                return await conn.run_sync(migrate.current)

    async def check_schema(self) -> None:
        """Raise ``SchemaOutdated`` (naming the command that fixes it) unless up to date."""
        migrate.require_head(await self.revision())

    def _missing_file(self) -> str | None:
        sqlite_file = self._sqlite_file()
        if sqlite_file is not None and not sqlite_file.parent.is_dir():
            return f"no directory {sqlite_file.parent}"
        return None

    def _sqlite_file(self) -> Path | None:
        database = self._engine.url.database
        if self._dialect.name != "sqlite" or in_memory(self._engine.url) or not database:
            return None
        return Path(database)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()


def stale_entries(
    entries: Sequence[JournalEntry], starts: Sequence[tuple[int, float]], *, tolerance_s: float
) -> dict[str, int]:
    """Each stale entry's id → the newer epoch that had begun before it was made (not epoch 0).

    ``starts`` are ``(epoch, started_s)`` by rising epoch. What counts is the earliest start
    among the epochs newer than the entry's: epochs normally start in order, but a database
    clock set back could make a later epoch look older.
    """
    if not starts:
        return {}
    epochs = [epoch for epoch, _ in starts]
    earliest = list(starts)
    for i in range(len(earliest) - 2, -1, -1):
        if earliest[i + 1][1] < earliest[i][1]:
            earliest[i] = earliest[i + 1]
    stale: dict[str, int] = {}
    for entry in entries:
        i = bisect_right(epochs, entry.epoch)
        if entry.epoch > UNLEASED and i < len(epochs) and earliest[i][1] < entry.at - tolerance_s:
            stale[entry.id] = earliest[i][0]
    return stale


def _sorted(rows: dict[str, Any]) -> list[Row]:
    return [rows[key].row() for key in sorted(rows)]


if TYPE_CHECKING:
    from acd.ports import JournalStore

    def _is_a_journal_store(journal: SqlJournal) -> JournalStore:
        return journal  # mypy proves SqlJournal fits the port
