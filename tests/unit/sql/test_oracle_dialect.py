"""Oracle without an Oracle: every table, migration and write statement rendered for its dialect.

The statements run for real on PostgreSQL in the contract suite (``MERGE`` included); here
they are compiled for Oracle and checked against its limits: 30-character identifiers and
bind names (before 12.2), no ``BOOLEAN``, ``VARCHAR2`` within 4000 bytes, ``CLOB`` only for
free-form documents, and no name that would need quoting.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import oracle, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from connectors.sql import SqlJournal
from connectors.sql.migrate import alembic_config
from connectors.sql.schema import MAX_IDENTIFIER, identifiers, metadata

ORACLE_URL = "oracle+oracledb://acd@db-15.example:1521/?service_name=ACD"
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$#]*")
BIND = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")
DOCUMENTS = {
    ("acd_audit", "details"),
    ("acd_config_version", "detail"),
    ("acd_fenced_entry", "body"),
}
"""The only columns allowed to be CLOB: free-form documents (a fenced entry is kept whole)."""


def oracle_ddl() -> Iterator[str]:
    """The CREATE TABLE and CREATE INDEX of every table, as Oracle gets them."""
    dialect = oracle.dialect()
    for table in metadata.sorted_tables:
        yield str(CreateTable(table).compile(dialect=dialect))
        for index in table.indexes:
            yield str(CreateIndex(index).compile(dialect=dialect))


def too_long(sql: str) -> list[str]:
    """Every word of a statement longer than Oracle's identifiers may be."""
    return [w for w in WORD.findall(sql) if len(w) > MAX_IDENTIFIER]


def test_every_table_column_constraint_and_index_name_fits_30_characters() -> None:
    """Names, the naming convention's included, stay within Oracle's 30 characters."""
    for table in metadata.sorted_tables:
        assert [n for n in identifiers(table) if len(n) > MAX_IDENTIFIER] == [], table.name
        assert table.primary_key.name == f"pk_{table.name}"
        assert all(index.name for index in table.indexes)


@pytest.mark.parametrize("dialect", [oracle.dialect(), postgresql.dialect(), sqlite.dialect()])
def test_no_name_needs_quoting_in_any_database(dialect: Dialect) -> None:
    """No name is a reserved word: reports can write plain SQL on every database."""
    preparer = dialect.identifier_preparer
    for table in metadata.sorted_tables:
        assert [n for n in identifiers(table) if preparer._requires_quotes(n)] == []


def test_oracle_ddl_uses_only_types_oracle_has() -> None:
    """No BOOLEAN; times are BINARY_DOUBLE; strings VARCHAR2 in characters within 4000 bytes."""
    ddl = "\n".join(oracle_ddl())
    assert "BOOLEAN" not in ddl
    assert too_long(ddl) == []
    for length in re.findall(r"VARCHAR2\((\d+) CHAR\)", ddl):
        assert int(length) <= 1000  # four bytes per character at worst
    assert "at_s BINARY_DOUBLE NOT NULL" in ddl
    assert "expires_s BINARY_DOUBLE NOT NULL" in ddl
    assert "TIMESTAMP" not in ddl  # the lease, too, counts in epoch seconds


def test_clob_only_for_free_form_documents() -> None:
    """Text columns (CLOB on Oracle): audit details, configuration detail, fenced entries."""
    found = {
        (table.name, column.name)
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, sa.Text)
    }
    assert found == DOCUMENTS


def test_migrations_render_for_oracle_within_its_limits() -> None:
    """Every revision, as Oracle SQL (offline), creates every table with short names."""
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="oracle", opts={"as_sql": True, "output_buffer": buffer}
    )
    scripts = ScriptDirectory.from_config(alembic_config())
    with Operations.context(context):
        for revision in reversed(list(scripts.walk_revisions())):
            revision.module.upgrade()
    sql = buffer.getvalue()
    assert too_long(sql) == []
    assert "BOOLEAN" not in sql
    created = set(re.findall(r"CREATE TABLE (\w+)", sql))
    assert created == set(metadata.tables)
    seconds = [c for t in metadata.sorted_tables for c in t.columns if c.name.endswith("_s")]
    assert sql.count("BINARY_DOUBLE") == len(seconds)  # every time column, exact floats


def test_oracle_journal_writes_with_merge_statements_within_limits() -> None:
    """On Oracle every insert and record update is a MERGE; names and binds fit 30 chars."""
    journal = SqlJournal.from_url(ORACLE_URL, password="not-used")
    dialect = journal.engine.dialect
    assert (dialect.name, dialect.driver, dialect.is_async) == ("oracle", "oracledb", True)
    statements = [str(s.compile(dialect=dialect)) for s in journal.statements()]
    merges = [s for s in statements if s.startswith("MERGE INTO ")]
    assert len(merges) == 9  # six entry tables, call records, worklist, fenced entries
    for sql in statements:
        assert too_long(sql) == [], sql
        assert [b for b in BIND.findall(sql) if len(b) > MAX_IDENTIFIER] == []
        assert "ON CONFLICT" not in sql
    for sql in merges:
        table = metadata.tables[sql.split()[2]]
        used = set(re.findall(r"\b[ts]\.(\w+)", sql))
        assert used <= set(table.columns.keys()), used - set(table.columns.keys())
        assert "FROM dual" in sql


def test_oracle_url_keeps_the_password_out_of_every_text() -> None:
    """The injected password reaches the driver's URL only, never a printed form."""
    journal = SqlJournal.from_url(ORACLE_URL, password="t0p-s3cret")
    assert "t0p-s3cret" not in repr(journal)
    assert "t0p-s3cret" not in journal.where
    assert "t0p-s3cret" not in str(journal.engine.url)
    assert journal.engine.url.password == "t0p-s3cret"
