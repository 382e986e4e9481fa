"""Revision 0001: every journal table, the call records, the callback worklist and the lease.

Frozen: it spells out the tables as they were at this revision instead of importing
``connectors.sql.schema``, which moves on; a test checks that the migrated database equals
the current schema. Names are explicit, all within Oracle's 30 characters.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import oracle

revision = "0001"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

Seconds: sa.types.TypeEngine[float] = sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle")
Timestamp: sa.types.TypeEngine[datetime] = sa.DateTime(timezone=True).with_variant(
    oracle.TIMESTAMP(timezone=True), "oracle"
)


def _s(name: str, length: int) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=True)


def _t(name: str) -> sa.Column[float]:
    return sa.Column(name, Seconds, nullable=True)


def _entry_table(name: str, *columns: sa.Column[Any], by: tuple[str, ...] = ()) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("at_s", Seconds, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        *columns,
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
    )
    for column in ("at_s", *by):
        op.create_index(f"ix_{name}_{column}", name, [column])


def upgrade() -> None:
    """Create every table and index of the journal."""
    _entry_table(
        "acd_call_event",
        _s("call_id", 64),
        _s("dept", 32),
        _s("queue", 64),
        _s("state", 16),
        _s("previous", 16),
        _s("agent", 64),
        _s("priority", 32),
        _s("caller", 64),
        _s("origin", 32),
        _s("path", 255),
        _t("arrived_s"),
        _s("reason", 1000),
        by=("call_id",),
    )
    _entry_table(
        "acd_decision",
        _s("call_id", 64),
        _s("dept", 32),
        _s("action", 16),
        _s("route", 64),
        _s("agent", 64),
        _s("target", 128),
        _s("rule", 128),
        _s("reason", 1000),
        _s("config_version", 64),
        by=("call_id",),
    )
    _entry_table(
        "acd_agent_state",
        _s("agent", 64),
        _s("state", 16),
        _s("previous", 16),
        _s("pause_reason", 128),
        _s("reason", 1000),
        by=("agent",),
    )
    _entry_table(
        "acd_audit",
        _s("actor", 128),
        _s("role", 32),
        _s("action", 64),
        _s("target", 255),
        sa.Column("details", sa.Text, nullable=True),
        _s("source", 128),
    )
    _entry_table(
        "acd_config_version",
        _s("version", 64),
        _s("path", 255),
        sa.Column("detail", sa.Text, nullable=True),
    )
    _entry_table(
        "acd_callback_event",
        _s("call_id", 64),
        _s("status", 16),
        _s("actor", 128),
        _s("note", 1000),
        by=("call_id",),
    )
    op.create_table(
        "acd_call",
        sa.Column("call_id", sa.String(64), nullable=False),
        _s("dept", 32),
        _s("queue", 64),
        _s("state", 16),
        _s("priority", 32),
        _s("caller", 64),
        _s("origin", 32),
        _s("path", 255),
        _t("arrived_s"),
        _t("offered_s"),
        _t("answered_s"),
        _t("ended_s"),
        _s("outcome", 16),
        _s("agent", 64),
        _t("updated_s"),
        _s("last_entry", 36),
        sa.PrimaryKeyConstraint("call_id", name="pk_acd_call"),
    )
    op.create_index("ix_acd_call_dept", "acd_call", ["dept"])
    op.create_index("ix_acd_call_arrived_s", "acd_call", ["arrived_s"])
    op.create_table(
        "acd_callback",
        sa.Column("call_id", sa.String(64), nullable=False),
        _s("dept", 32),
        _s("caller", 64),
        _t("abandoned_s"),
        _t("wait_s"),
        _s("status", 16),
        _t("updated_s"),
        _s("updated_by", 128),
        sa.PrimaryKeyConstraint("call_id", name="pk_acd_callback"),
    )
    op.create_index("ix_acd_callback_dept", "acd_callback", ["dept"])
    op.create_index("ix_acd_callback_caller", "acd_callback", ["caller"])
    op.create_table(
        "acd_lease",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_acd_lease"),
    )


def downgrade() -> None:
    """Drop every table of the journal (and its data)."""
    for name in (
        "acd_lease",
        "acd_callback",
        "acd_call",
        "acd_callback_event",
        "acd_config_version",
        "acd_audit",
        "acd_agent_state",
        "acd_decision",
        "acd_call_event",
    ):
        op.drop_table(name)
