"""Schema migrations, run from code: the Alembic scripts ship inside the package, no alembic.ini.

``upgrade`` and ``current`` take a synchronous connection: async callers hand them over with
``AsyncConnection.run_sync``, so the migrations run in the caller's transaction.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from connectors.sql.errors import SchemaOutdated

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UPGRADE_COMMAND = "acd db upgrade -c CONFIG"
"""What an operator runs to bring a journal database up to date."""


def alembic_config(connection: Connection | None = None, *, scripts: Path = MIGRATIONS) -> Config:
    """An Alembic configuration pointing at the shipped scripts (and at ``connection``)."""
    config = Config()
    config.set_main_option("script_location", str(scripts))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head(*, scripts: Path = MIGRATIONS) -> str:
    """The revision this code writes to."""
    revision = ScriptDirectory.from_config(alembic_config(scripts=scripts)).get_current_head()
    assert revision is not None  # the package ships at least one revision
    return revision


def current(connection: Connection) -> str | None:
    """The database's revision; ``None`` when it was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` on this connection."""
    command.upgrade(alembic_config(connection), revision)


def require_head(found: str | None, *, scripts: Path = MIGRATIONS) -> None:
    """Raise ``SchemaOutdated`` unless the database is at this code's revision."""
    wanted = head(scripts=scripts)
    if found == wanted:
        return
    if found is None:
        raise SchemaOutdated(
            f"the journal database has no schema (required revision {wanted}): "
            f"run `{UPGRADE_COMMAND}`"
        )
    try:
        ScriptDirectory.from_config(alembic_config(scripts=scripts)).get_revision(found)
    except CommandError:
        raise SchemaOutdated(
            f"the journal database is at revision {found}, unknown to this version "
            f"(required {wanted}): it was migrated by a newer acd; upgrade acd"
        ) from None
    raise SchemaOutdated(
        f"the journal database is at revision {found}, older than the required {wanted}: "
        f"run `{UPGRADE_COMMAND}`"
    )
