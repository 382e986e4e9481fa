"""Schema revisions: shipped in the package, applied from code, an old database refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from connectors.sql import SchemaOutdated, SqlJournal
from connectors.sql.migrate import MIGRATIONS, head, require_head

NEXT_REVISION = '''"""A later revision, for the test only."""
revision = "0003"
down_revision = "{previous}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


def scripts_with_a_later_revision(directory: Path) -> Path:
    """A copy of the shipped scripts plus one revision on top: what a newer acd would ship."""
    copy = directory / "migrations"
    shutil.copytree(MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    later = NEXT_REVISION.format(previous=head())
    (copy / "versions" / "0003_later.py").write_text(later, encoding="utf-8")
    return copy


def test_migrations_ship_inside_the_package() -> None:
    """The scripts sit in the package (no alembic.ini), and the head is the lease's revision."""
    assert (MIGRATIONS / "env.py").is_file()
    assert head() == "0002"


@pytest.mark.asyncio
async def test_database_at_an_older_revision_is_refused_with_the_command(tmp_path: Path) -> None:
    """A database one revision behind the code: ``SchemaOutdated`` says to run the upgrade."""
    journal = SqlJournal.from_url(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        await journal.create_schema()
        found = await journal.revision()
    finally:
        await journal.close()
    newer = scripts_with_a_later_revision(tmp_path)
    assert head(scripts=newer) == "0003"
    with pytest.raises(SchemaOutdated, match=r"0002, older than the required 0003") as caught:
        require_head(found, scripts=newer)
    assert "acd db upgrade -c CONFIG" in str(caught.value)
    assert caught.value.slug == "journal-schema-outdated"
    require_head(found)  # and the shipped code is content with it


@pytest.mark.asyncio
async def test_upgrading_twice_changes_nothing(tmp_path: Path) -> None:
    """Running the migrations on an up-to-date database is a no-op, not an error."""
    journal = SqlJournal.from_url(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        assert await journal.revision() is None
        assert not (tmp_path / "journal.db").exists()  # asking did not create the file
        assert await journal.create_schema() == "0002"
        assert await journal.create_schema() == "0002"
    finally:
        await journal.close()
