"""The durable journal in SQL (SQLAlchemy Core, async): SQLite, PostgreSQL, Oracle."""

from connectors.sql.errors import (
    JournalError,
    JournalUnavailable,
    SchemaOutdated,
    UnsupportedJournalUrl,
)
from connectors.sql.store import SqlJournal

__all__ = [
    "JournalError",
    "JournalUnavailable",
    "SchemaOutdated",
    "SqlJournal",
    "UnsupportedJournalUrl",
]
