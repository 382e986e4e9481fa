"""The SQL journal's errors: a database that cannot answer now is retryable, nothing else is."""

from __future__ import annotations


class JournalError(Exception):
    """Base of the SQL journal's errors; ``slug`` is stable and machine-readable."""

    slug = "journal-error"


class JournalUnavailable(JournalError):
    """The database cannot be reached or dropped the connection: keep the batch, retry later."""

    slug = "journal-unavailable"


class SchemaOutdated(JournalError):
    """The database's schema is not the one this code writes; the message says how to fix it."""

    slug = "journal-schema-outdated"


class UnsupportedJournalUrl(JournalError, ValueError):
    """A journal URL whose scheme has no async driver here (a configuration mistake)."""

    slug = "unsupported-journal-url"
