"""Journal URLs: each configured scheme gets its async driver; SQLite runs in WAL mode."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from acd.config import JournalConfig
from acd.journal import EntryKind
from connectors.sql import JournalUnavailable, SqlJournal, UnsupportedJournalUrl
from connectors.sql.engine import SQLITE_BUSY_TIMEOUT_MS, journal_url
from tests.unit.sql.stories import T0, Ids, entry

SCHEMES = [
    ("sqlite:///var/acd-journal.db", "sqlite+aiosqlite", "var/acd-journal.db"),
    ("sqlite://", "sqlite+aiosqlite", None),
    ("memory://", "sqlite+aiosqlite", None),
    ("postgresql://acd@db:5432/acd", "postgresql+asyncpg", "acd"),
    ("postgresql+asyncpg://acd@db:5432/acd", "postgresql+asyncpg", "acd"),
    ("postgresql+psycopg://acd@db:5432/acd", "postgresql+psycopg", "acd"),
    ("oracle+oracledb://acd@db:1521/?service_name=ACD", "oracle+oracledb", ""),
]


@pytest.mark.parametrize(("url", "driver", "database"), SCHEMES)
def test_each_configured_scheme_gets_its_async_driver(
    url: str, driver: str, database: str | None
) -> None:
    """Every scheme the configuration accepts opens with an asyncio driver."""
    parsed = journal_url(url)
    assert (parsed.drivername, parsed.database or None) == (driver, database or None)
    JournalConfig(url=url)  # the configuration accepts the same schemes
    journal = SqlJournal.from_url(url)
    assert journal.engine.dialect.is_async


def test_unknown_scheme_is_refused_by_the_journal_and_the_configuration() -> None:
    """A MySQL URL is a configuration mistake with its own slug, not a retryable outage."""
    with pytest.raises(UnsupportedJournalUrl) as caught:
        journal_url("mysql://acd@db/acd")
    assert caught.value.slug == "unsupported-journal-url"
    assert "postgresql+psycopg" in str(caught.value)
    with pytest.raises(ValidationError, match="unsupported URL scheme"):
        JournalConfig(url="mysql://acd@db/acd")


def test_password_is_set_apart_from_the_url() -> None:
    """The password goes to the driver; the printable form hides it."""
    parsed = journal_url("postgresql://acd@db:5432/acd", password="p@ss:/word")
    assert parsed.password == "p@ss:/word"
    assert "p@ss" not in parsed.render_as_string(hide_password=True)


@pytest.mark.asyncio
async def test_memory_journal_is_one_database_for_every_connection() -> None:
    """``memory://`` keeps what one connection wrote for the next (one shared connection)."""
    journal = SqlJournal.from_url("memory://")
    try:
        await journal.create_schema()
        await journal.write([entry(Ids(), EntryKind.CONFIG, T0, version="v1")])
        assert await journal.count(EntryKind.CONFIG) == 1
        await journal.check_schema()
    finally:
        await journal.close()


@pytest.mark.asyncio
async def test_sqlite_journal_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    """Readers never block the writer, and a second writer waits instead of failing at once."""
    journal = SqlJournal.from_url(f"sqlite:///{tmp_path / 'sub' / 'journal.db'}")
    try:
        await journal.create_schema()  # makes the missing directory
        async with journal.engine.connect() as conn:
            mode = await conn.scalar(sa.text("PRAGMA journal_mode"))
            timeout = await conn.scalar(sa.text("PRAGMA busy_timeout"))
    finally:
        await journal.close()
    assert (mode, timeout) == ("wal", SQLITE_BUSY_TIMEOUT_MS)


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_database_down_is_reported_as_unavailable(driver: str) -> None:
    """Nothing listening: ``JournalUnavailable`` (retry later), the password never shown."""
    journal = SqlJournal.from_url(
        f"postgresql+{driver}://acd@127.0.0.1:1/acd", password="s3cret-pw"
    )
    try:
        with pytest.raises(JournalUnavailable) as caught:
            await journal.write([entry(Ids(), EntryKind.CONFIG, T0, version="v1")])
    finally:
        await journal.close()
    assert caught.value.slug == "journal-unavailable"
    assert "s3cret-pw" not in str(caught.value)
