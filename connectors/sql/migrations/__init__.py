"""Alembic migrations of the journal schema (run by ``connectors.sql.migrate``)."""
