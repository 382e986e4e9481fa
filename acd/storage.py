"""The storage half of the wiring point: hot state, outbox and SQL journal chosen from the config.

``redis.url: memory://`` keeps the hot state in process and sends journal entries straight
to SQL through a memory outbox; a Redis URL puts both the hot state and the outbox stream
in Redis, with a writer draining the stream into SQL. Either way entries that cannot
travel wait in the local spool file, and nothing else in the service knows which it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio import Redis

from acd.config import AcdConfig, resolve_secret
from acd.journal import EntryKind, JournalEntry, Journaling
from acd.ports import HotState, Journal, Lease
from connectors.memory.hotstate import MemoryHotState
from connectors.memory.lease import MemoryLease
from connectors.memory.outbox import MemoryOutbox, OutboxMetrics
from connectors.redis.connect import redis_client
from connectors.redis.hotstate import RedisHotState
from connectors.redis.outbox import OutboxWriter, RedisOutbox
from connectors.spool import SpoolFile
from connectors.sql import SqlJournal
from connectors.sql.lease import SqlLease

log = logging.getLogger("acd.storage")

JOURNAL_CLAIM_IDLE_S = 10.0
"""A journal batch pending this long under one writer is taken over by another writer.

A writer dies with its instance (kill -9, a lost lease) holding the batch it was writing,
under a consumer name (it carries the pid) that never comes back: the surviving
instances' writers claim it after this long, so a failover delays those journal entries
by seconds, not by the library's minute. A live writer whose batch is claimed only costs
a second, idempotent, write of it.
"""


class _Outbox(Journal, Protocol):
    def start(self) -> None: ...
    async def close(self, timeout: float = 5.0) -> None: ...
    def metrics(self) -> OutboxMetrics: ...


@dataclass
class Storage:
    """What the service keeps its state and journal in, with the tasks that move them."""

    hot: HotState
    outbox: _Outbox
    sql: SqlJournal
    lease: Lease
    redis: Redis | None = None
    writer: OutboxWriter | None = None
    description: str = ""
    _closed: bool = field(default=False, repr=False)
    _writer_task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def open(self, *, create_schema: bool) -> None:
        """Check (or, for embedded databases, create) the schema, then start the movers.

        ``SchemaOutdated`` escapes from here with the command that fixes it: a service
        must not write into a schema older than it needs.
        """
        if create_schema:
            await self.sql.create_schema()
        else:
            await self.sql.check_schema()
        self.outbox.start()
        if self.writer is not None:
            self._writer_task = asyncio.create_task(self.writer.run(), name="journal-writer")

    async def close(self, timeout: float = 5.0) -> None:
        """Let the outbox reach SQL (or the spool) within ``timeout``, then close everything."""
        if self._closed:
            return
        self._closed = True
        await self.outbox.close(timeout)
        if self.writer is not None and self._writer_task is not None:
            await self._drain_stream(self.writer, timeout)
            self.writer.stop()
            try:
                await asyncio.wait_for(self._writer_task, timeout)
            except (TimeoutError, asyncio.CancelledError):
                log.warning("journal writer stopped with entries left in the stream")
            except Exception:
                log.exception("journal writer failed")
        with contextlib.suppress(Exception):
            await self.hot.close()
        await self.sql.close()
        if self.redis is not None:
            await self.redis.aclose()

    @staticmethod
    async def _drain_stream(writer: OutboxWriter, timeout: float) -> None:
        """Give the writer ``timeout`` s to bring the stream's entries to SQL."""
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        with contextlib.suppress(Exception):
            while (await writer.metrics()).backlog and loop.time() < until:
                await asyncio.sleep(0.05)

    async def metrics(self) -> OutboxMetrics:
        """The journal's backlog: this side of the stream plus the stream itself."""
        mine = self.outbox.metrics()
        if self.writer is None:
            return mine
        try:
            theirs = await self.writer.metrics()
        except Exception:
            return mine
        ages = [a for a in (mine.oldest_age_s, theirs.oldest_age_s) if a is not None]
        return OutboxMetrics(
            backlog=mine.backlog + theirs.backlog,
            oldest_age_s=max(ages, default=None),
            written=theirs.written,
            retries=theirs.retries,
            bad=mine.bad + theirs.bad,
            spooled=mine.spooled,
        )

    def record_config(self, journaling: Journaling, *, version: str, path: str, at: float) -> None:
        """Journal a configuration version in force from ``at``."""
        entry = journaling.entry(EntryKind.CONFIG, at, version=version, path=path)
        self.outbox.append([entry])

    def append(self, entries: Sequence[JournalEntry]) -> None:
        """Hand entries to the outbox (the ``Journal`` port of the dispatcher)."""
        self.outbox.append(entries)


def embedded_journal(url: str) -> bool:
    """Whether the journal lives with this process (SQLite), so it may create its schema."""
    return url.startswith(("sqlite", "memory"))


def build_storage(cfg: AcdConfig, **sql_options: Any) -> Storage:
    """The configured hot state, outbox and journal (secrets are read here)."""
    jcfg = cfg.journal
    password = None if jcfg.password is None else resolve_secret(jcfg.password)
    sql = SqlJournal.from_url(
        jcfg.url, password=password, lease_name=cfg.ha.lease_name, **sql_options
    )
    # A journal in memory is one process's: its single shared connection must not carry
    # the lease's transactions between the journal's.
    lease: Lease = MemoryLease() if jcfg.url.startswith("memory") else SqlLease.of(sql)
    spool = SpoolFile(jcfg.spool)
    ns = cfg.instance.name
    rcfg = cfg.redis
    if rcfg.url.startswith("memory"):
        return Storage(
            hot=MemoryHotState(namespace=ns),
            outbox=MemoryOutbox(store=sql, spool=spool),
            sql=sql,
            lease=lease,
            description=f"hot state in memory, journal {_safe(jcfg.url)}",
        )
    client = redis_client(
        url=rcfg.url,
        password=None if rcfg.password is None else resolve_secret(rcfg.password),
        sentinels=[(s.host, s.port) for s in rcfg.sentinels],
        master_name=rcfg.master_name,
        tls=rcfg.tls,
    )
    consumer = f"{ns}-{socket.gethostname()}-{os.getpid()}"
    return Storage(
        hot=RedisHotState(client, namespace=ns),
        outbox=RedisOutbox(redis=client, namespace=ns, spool=spool),
        sql=sql,
        lease=lease,
        redis=client,
        writer=OutboxWriter(
            redis=client,
            namespace=ns,
            store=sql,
            consumer=consumer,
            claim_idle_ms=int(JOURNAL_CLAIM_IDLE_S * 1000),
        ),
        description=f"hot state and outbox {_safe(rcfg.url)}, journal {_safe(jcfg.url)}",
    )


def _safe(url: str) -> str:
    """A URL without its password, for the logs."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        cred, _, host = rest.rpartition("@")
        user = cred.split(":", 1)[0]
        rest = f"{user}@{host}"
    return f"{scheme}{sep}{rest}"
