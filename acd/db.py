"""``acd db``: the journal database's schema, brought to this version's revision or shown.

The journal checks its schema at start and refuses an outdated one; these commands are how
an operator fixes that (``acd db upgrade -c FILE``) or looks first (``acd db current``).
They read the configuration's ``journal.url`` and ``journal.password`` reference here, so
the SQL connector never sees the configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from acd.config import ConfigError, SecretError, load_document, resolve_secret
from connectors.sql import JournalError, SqlJournal
from connectors.sql.migrate import head

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK = 0
EXIT_BEHIND = 1
"""``acd db current``: the database is not at this version's revision (scripts test it)."""
EXIT_FAILED = 1
"""The database could not be reached or migrated."""
EXIT_INVALID = 2
"""The configuration could not be read (same status as the other commands)."""


def _open(config: str) -> SqlJournal | int:
    """The configured journal, or the exit status after saying what is wrong."""
    try:
        cfg = load_document(config).config
    except ConfigError as err:
        for issue in err.issues:
            print(issue, file=sys.stderr)
        return EXIT_INVALID
    password = None
    if cfg.journal.password is not None:
        try:
            password = resolve_secret(cfg.journal.password)
        except SecretError as err:
            print(f"{config} journal.password: {err}", file=sys.stderr)
            return EXIT_INVALID
    try:
        return SqlJournal.from_url(cfg.journal.url, password=password)
    except JournalError as err:
        print(f"{config} journal.url: {err}", file=sys.stderr)
        return EXIT_INVALID


def _with_journal(args: argparse.Namespace, use: Callable[[SqlJournal], Awaitable[int]]) -> int:
    journal = _open(args.config)
    if isinstance(journal, int):
        return journal

    async def run() -> int:
        try:
            return await use(journal)
        finally:
            await journal.close()

    try:
        return asyncio.run(run())
    except JournalError as err:
        print(f"{args.config}: {err}", file=sys.stderr)
        return EXIT_FAILED


def db_upgrade(args: argparse.Namespace) -> int:
    """Apply the migrations the database lacks; print the revision it is at."""

    async def upgrade(journal: SqlJournal) -> int:
        before = await journal.revision()
        after = await journal.create_schema()
        if before == after:
            print(f"{journal.where}: journal schema already at revision {after}")
        else:
            print(f"{journal.where}: journal schema upgraded from {before or 'none'} to {after}")
        return EXIT_OK

    return _with_journal(args, upgrade)


def db_current(args: argparse.Namespace) -> int:
    """Print the database's revision and the one this version needs; 1 when they differ."""

    async def current(journal: SqlJournal) -> int:
        found, wanted = await journal.revision(), head()
        state = "up to date" if found == wanted else f"run `acd db upgrade -c {args.config}`"
        print(f"{journal.where}: current {found or 'none'}, required {wanted} ({state})")
        return EXIT_OK if found == wanted else EXIT_BEHIND

    return _with_journal(args, current)


def register_db(subparsers: Subparsers) -> None:
    """``acd db upgrade -c FILE`` and ``acd db current -c FILE``."""
    group = subparsers.add_parser("db", help="journal database: apply migrations, show revision")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    upgrade = actions.add_parser(
        "upgrade", help="bring the journal database's schema to this version (migrations)"
    )
    upgrade.add_argument("-c", "--config", required=True, metavar="FILE", help="YAML configuration")
    upgrade.set_defaults(handler=db_upgrade)
    current = actions.add_parser(
        "current", help="show the journal database's schema revision and the one required"
    )
    current.add_argument("-c", "--config", required=True, metavar="FILE", help="YAML configuration")
    current.set_defaults(handler=db_current)
