"""``SqlLease``: the leadership lease as one row; the database's clock alone decides expiry.

The rule: one short transaction per call, every change a conditional statement whose
``WHERE`` reads the database's clock, so two instances can never both hold the lease and
no host's clock (skewed, frozen, set back) can extend it. In order:

1. **renew** — ``UPDATE acd_lease SET expires_s = now + ttl WHERE name = :n AND holder = :h
   AND expires_s > now``: the holder of an unexpired lease keeps its epoch;
2. **take over** — ``UPDATE acd_lease SET holder = :h, epoch = epoch + 1, expires_s = now +
   ttl WHERE name = :n AND expires_s <= now``: an expired (or released) lease goes to the
   asker with the next epoch, *also when the asker held it before*: once its lease expired
   another instance may have fenced that epoch out (hot state, journal), so it starts anew;
3. **first time** — no row yet: ``INSERT`` with the epoch after the highest ever recorded
   (1 on a new database; never back to 1 if the row was deleted by hand); two first
   inserts racing: the loser's unique violation makes it try again, and it finds the row;
4. otherwise **not held**: the row read back tells who holds it, its epoch, when it ends.

A takeover (2, 3) records ``(name, epoch, holder, started_s)`` in ``acd_lease_epoch`` in the
same transaction: the journal's fence (``SqlJournal.write``) and the audit of who led when.

Times are epoch seconds in a double (``expires_s``, ``started_s``), like every time of the
journal: the fence compares an epoch's start with an entry's ``at`` directly, and "now"
is one expression per database instead of time-zone arithmetic on ``TIMESTAMP`` columns
(SQLite has no such type). ``now`` is ``db_now()``: PostgreSQL ``clock_timestamp()`` (not
``now()``, frozen at the start of a transaction that may have waited on a lock), SQLite
``julianday('now')`` (fixed within one statement, millisecond resolution), Oracle
``SYSTIMESTAMP`` in UTC (fixed within one statement).

On SQLite the renew comes first for a reason beyond speed: a write statement takes the
database's write lock even when it changes no row, so the whole transaction that follows
runs alone; a read first would leave a snapshot that a concurrent writer makes stale.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from acd.ports import LeaseGrant
from connectors.sql.errors import JournalError
from connectors.sql.schema import Seconds, lease, lease_epoch
from connectors.sql.store import SqlJournal, retryable

log = logging.getLogger(__name__)

FIRST_INSERT_ATTEMPTS = 3
"""Tries when first inserts race: the second always finds the winner's row."""


class LeaseUnavailable(JournalError):
    """The lease's database cannot answer now: the lease counts as not renewed."""

    slug = "lease-unavailable"


# -- the database's clock -------------------------------------------------------------------------


class db_now(sa.sql.expression.FunctionElement[float]):  # noqa: N801 - used like sa.func.now()
    """The database server's current time in epoch seconds (a double), read where it runs."""

    type = Seconds
    inherit_cache = True
    name = "db_now"


_ORACLE_SPAN = "(SYS_EXTRACT_UTC(SYSTIMESTAMP) - TIMESTAMP '1970-01-01 00:00:00')"

DB_CLOCKS: Mapping[str, str] = {
    # EXTRACT gives NUMERIC since PostgreSQL 14: cast, so it adds to a double bind.
    "postgresql": "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
    # 2440587.5 is the Julian day of 1970-01-01T00:00Z (unixepoch('subsec') needs 3.42).
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
    # The interval since 1970 in UTC, summed field by field (Oracle has no interval-to-number
    # conversion). SYSTIMESTAMP is evaluated once per statement, so the fields agree.
    "oracle": (
        f"TO_BINARY_DOUBLE(EXTRACT(DAY FROM {_ORACLE_SPAN}) * 86400"
        f" + EXTRACT(HOUR FROM {_ORACLE_SPAN}) * 3600"
        f" + EXTRACT(MINUTE FROM {_ORACLE_SPAN}) * 60 + EXTRACT(SECOND FROM {_ORACLE_SPAN}))"
    ),
}
"""``db_now()`` in each database's SQL."""


@compiles(db_now)
def _db_clock(_element: db_now, compiler: SQLCompiler, **_kw: Any) -> str:
    sql = DB_CLOCKS.get(compiler.dialect.name)
    if sql is None:
        raise sa_exc.CompileError(f"no database clock for the {compiler.dialect.name} dialect")
    return sql


# -- the statements -------------------------------------------------------------------------------

_NAME = sa.bindparam("lease_name", type_=sa.String)
_HOLDER = sa.bindparam("lease_holder", type_=sa.String)
_TTL = sa.bindparam("ttl_s", type_=Seconds)

RENEW = (
    sa.update(lease)
    .where(lease.c.name == _NAME, lease.c.holder == _HOLDER, lease.c.expires_s > db_now())
    .values(expires_s=db_now() + _TTL)
    .returning(lease.c.epoch, lease.c.expires_s)
)
TAKE_OVER = (
    sa.update(lease)
    .where(lease.c.name == _NAME, lease.c.expires_s <= db_now())
    .values(holder=_HOLDER, epoch=lease.c.epoch + 1, expires_s=db_now() + _TTL)
    .returning(lease.c.epoch, lease.c.expires_s)
)
_NEXT_EPOCH = (
    sa.select(sa.func.coalesce(sa.func.max(lease_epoch.c.epoch), 0) + 1)
    .where(lease_epoch.c.name == _NAME)
    .scalar_subquery()
)
FIRST = (
    sa.insert(lease)
    .values(name=_NAME, holder=_HOLDER, epoch=_NEXT_EPOCH, expires_s=db_now() + _TTL)
    .returning(lease.c.epoch, lease.c.expires_s)
)
RECORD_EPOCH = sa.insert(lease_epoch).values(
    name=_NAME, epoch=sa.bindparam("new_epoch", type_=sa.Integer), holder=_HOLDER,
    started_s=db_now(),
)  # fmt: skip
READ = sa.select(lease.c.holder, lease.c.epoch, lease.c.expires_s, db_now().label("now_s")).where(
    lease.c.name == _NAME
)
RELEASE = (
    sa.update(lease)
    .where(lease.c.name == _NAME, lease.c.holder == _HOLDER, lease.c.expires_s > db_now())
    .values(expires_s=db_now())
)
HISTORY = (
    sa.select(lease_epoch.c.epoch, lease_epoch.c.holder, lease_epoch.c.started_s)
    .where(lease_epoch.c.name == _NAME)
    .order_by(lease_epoch.c.epoch)
)
NOW = sa.select(db_now().label("now_s"))

STATEMENTS: Mapping[str, sa.Update | sa.Insert | sa.Select[Any]] = {
    "renew": RENEW,
    "take_over": TAKE_OVER,
    "first": FIRST,
    "record_epoch": RECORD_EPOCH,
    "read": READ,
    "release": RELEASE,
    "history": HISTORY,
    "now": NOW,
}
"""Every statement the lease runs, by role (for review and the dialect tests)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EpochStart:
    """One epoch of a lease: who took it, and when by the database's clock."""

    epoch: int
    holder: str
    started_s: float


class SqlLease:
    """The leadership lease in the journal's database (``acd.ports.Lease``)."""

    def __init__(self, engine: AsyncEngine | SqlJournal, *, name: str = "acd") -> None:
        """The lease ``name`` on ``engine`` (or a journal's engine: one pool for both)."""
        self._engine = engine.engine if isinstance(engine, SqlJournal) else engine
        self.name = name
        self._where = self._engine.url.render_as_string(hide_password=True)

    @classmethod
    def of(cls, journal: SqlJournal, *, name: str | None = None) -> SqlLease:
        """The lease on a journal's pool; by default the one its fence reads (``lease_name``)."""
        return cls(journal.engine, name=journal.lease_name if name is None else name)

    def __repr__(self) -> str:
        return f"SqlLease({self.name!r} on {self._where})"

    @contextmanager
    def _boundary(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sa_exc.DBAPIError as err:
            if not retryable(err):
                raise
            raise LeaseUnavailable(f"{doing} on {self._where}: {err.orig}") from err
        except (OSError, sa_exc.DisconnectionError, sa_exc.TimeoutError) as err:
            raise LeaseUnavailable(f"{doing} on {self._where}: {err}") from err

    def _binds(self, holder: str, ttl_s: float = 0.0) -> dict[str, Any]:
        if not holder:  # Oracle stores '' as NULL, and a nameless holder cannot be told apart
            raise ValueError("a lease holder needs a name")
        return {"lease_name": self.name, "lease_holder": holder, "ttl_s": float(ttl_s)}

    async def try_acquire(self, holder: str, ttl_s: float) -> LeaseGrant:
        """Renew, take over or report, in one transaction (see the module's rule)."""
        if not ttl_s > 0:
            raise ValueError(f"a lease lasts a positive time, not {ttl_s!r} s")
        binds = self._binds(holder, ttl_s)
        with self._boundary(f"acquiring the lease {self.name!r}"):
            for attempt in range(1, FIRST_INSERT_ATTEMPTS + 1):
                try:
                    async with self._engine.begin() as conn:
                        return await self._acquire(conn, binds)
                except sa_exc.IntegrityError:
                    # Another first insert won the race (its row, or its epoch's record).
                    if attempt == FIRST_INSERT_ATTEMPTS:
                        raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _acquire(self, conn: AsyncConnection, binds: dict[str, Any]) -> LeaseGrant:
        ttl_s = binds["ttl_s"]
        renewed = (await conn.execute(RENEW, binds)).first()
        if renewed is not None:
            return _held(binds, renewed.epoch, renewed.expires_s - ttl_s, ttl_s)
        taken = (await conn.execute(TAKE_OVER, binds)).first()
        if taken is None:
            current = (await conn.execute(READ, binds)).first()
            if current is not None:
                return LeaseGrant(
                    held=False,
                    holder=current.holder,
                    epoch=current.epoch,
                    expires_in_s=current.expires_s - current.now_s,
                    db_now_s=current.now_s,
                )
            taken = (await conn.execute(FIRST, binds)).one()
        await conn.execute(RECORD_EPOCH, {**binds, "new_epoch": taken.epoch})
        log.info("lease %r taken by %s: epoch %d", self.name, binds["lease_holder"], taken.epoch)
        return _held(binds, taken.epoch, taken.expires_s - ttl_s, ttl_s)

    async def release(self, holder: str) -> None:
        """Expire the lease now if ``holder`` holds it; the next taker gets epoch + 1."""
        binds = self._binds(holder)
        with self._boundary(f"releasing the lease {self.name!r}"):
            async with self._engine.begin() as conn:
                released = (await conn.execute(RELEASE, binds)).rowcount == 1
        # Not holding it is no error: a release at shutdown may come after the lease lapsed.
        log.info("lease %r %s by %s", self.name, "released" if released else "not held", holder)

    async def history(self) -> list[EpochStart]:
        """Every epoch of this lease, oldest first: who led from when."""
        with self._boundary(f"reading the epochs of the lease {self.name!r}"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(HISTORY, {"lease_name": self.name})).all()
        return [EpochStart(epoch=r.epoch, holder=r.holder, started_s=r.started_s) for r in rows]

    async def db_now_s(self) -> float:
        """The database's clock now, epoch seconds (what every expiry is measured with)."""
        with self._boundary("reading the database's clock"):
            async with self._engine.connect() as conn:
                return float(await conn.scalar(NOW) or 0.0)


def _held(binds: dict[str, Any], epoch: int, now_s: float, ttl_s: float) -> LeaseGrant:
    return LeaseGrant(
        held=True, holder=binds["lease_holder"], epoch=epoch, expires_in_s=ttl_s, db_now_s=now_s
    )


if TYPE_CHECKING:
    from acd.ports import Lease

    def _is_a_lease(lease: SqlLease) -> Lease:
        return lease  # mypy proves SqlLease fits the port
