"""Revision 0002: the lease in epoch seconds, the epochs' starts, and the fenced entries.

``acd_lease`` is dropped and created again rather than altered: revision 0001 created it
but no acd of that revision ever wrote a row, so nothing is lost, and one ``CREATE TABLE``
works the same on every database (SQLite cannot alter a column's type in place; Oracle's
DDL is not transactional, so fewer steps leave fewer half-done states). Its
``expires_at TIMESTAMP WITH TIME ZONE`` becomes ``expires_s`` in epoch seconds, the unit
of every other time in the journal (see ``connectors.sql.lease``).

Frozen like 0001: the tables are spelled out as they are at this revision.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import oracle

revision = "0002"
down_revision: str | None = "0001"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

Seconds: sa.types.TypeEngine[float] = sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle")
Timestamp: sa.types.TypeEngine[datetime] = sa.DateTime(timezone=True).with_variant(
    oracle.TIMESTAMP(timezone=True), "oracle"
)


def _lease(expires: sa.Column[float] | sa.Column[datetime]) -> None:
    op.create_table(
        "acd_lease",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        expires,
        sa.PrimaryKeyConstraint("name", name="pk_acd_lease"),
    )


def upgrade() -> None:
    """Lease times in epoch seconds; the epochs' starts; the entries fenced out as stale."""
    op.drop_table("acd_lease")
    _lease(sa.Column("expires_s", Seconds, nullable=False))
    op.create_table(
        "acd_lease_epoch",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("started_s", Seconds, nullable=False),
        sa.PrimaryKeyConstraint("name", "epoch", name="pk_acd_lease_epoch"),
    )
    op.create_table(
        "acd_fenced_entry",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("at_s", Seconds, nullable=False),
        sa.Column("newer_epoch", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acd_fenced_entry"),
    )
    op.create_index("ix_acd_fenced_entry_at_s", "acd_fenced_entry", ["at_s"])


def downgrade() -> None:
    """Back to 0001: the fence and the epochs' history are dropped, the lease row too."""
    op.drop_table("acd_fenced_entry")
    op.drop_table("acd_lease_epoch")
    op.drop_table("acd_lease")
    _lease(sa.Column("expires_at", Timestamp, nullable=False))
