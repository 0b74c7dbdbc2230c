"""The timeline (entries, their merge moves, pending activity) and RFM scoring.

Revision ID: 0004_timeline_scoring
Revises: 0003_privacy
Create Date: 2026-11-26 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_timeline_scoring"
down_revision: str | None = "0003_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timeline_entries",
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("source_key", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("order_id", sa.String(), nullable=True),
        sa.Column("reference", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source_event_id", sa.String(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"]),
        sa.PrimaryKeyConstraint("entry_id"),
        sa.UniqueConstraint("source_key"),
    )
    op.create_index(
        "ix_timeline_entries_page",
        "timeline_entries",
        ["customer_id", "occurred_at", "entry_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_timeline_entries_order_id"), "timeline_entries", ["order_id"], unique=False
    )
    op.create_table(
        "timeline_moves",
        sa.Column("merge_id", sa.String(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["timeline_entries.entry_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("merge_id", "entry_id"),
    )
    op.create_table(
        "timeline_pending",
        sa.Column("source_key", sa.String(), nullable=False),
        sa.Column("identity_digests", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("reference", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source_event_id", sa.String(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_key"),
    )
    op.create_index(
        "ix_timeline_pending_digests",
        "timeline_pending",
        ["identity_digests"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_timeline_pending_expires_at"), "timeline_pending", ["expires_at"], unique=False
    )
    op.create_table(
        "customer_rfm",
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("orders_count", sa.Integer(), nullable=False),
        sa.Column("monetary", sa.Numeric(), nullable=False),
        sa.Column("last_order_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("r_score", sa.SmallInteger(), nullable=True),
        sa.Column("f_score", sa.SmallInteger(), nullable=True),
        sa.Column("m_score", sa.SmallInteger(), nullable=True),
        sa.Column("scored_by", sa.String(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "store_id"),
    )
    op.create_table(
        "rfm_boundaries",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("recency", postgresql.ARRAY(sa.DateTime(timezone=True)), nullable=False),
        sa.Column("frequency", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("monetary", postgresql.ARRAY(sa.Numeric()), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "currency"),
    )
    op.create_table(
        "scoring_runs",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stores", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id"),
    )


def downgrade() -> None:
    op.drop_table("scoring_runs")
    op.drop_table("rfm_boundaries")
    op.drop_table("customer_rfm")
    op.drop_index(op.f("ix_timeline_pending_expires_at"), table_name="timeline_pending")
    op.drop_index(
        "ix_timeline_pending_digests", table_name="timeline_pending", postgresql_using="gin"
    )
    op.drop_table("timeline_pending")
    op.drop_table("timeline_moves")
    op.drop_index(op.f("ix_timeline_entries_order_id"), table_name="timeline_entries")
    op.drop_index("ix_timeline_entries_page", table_name="timeline_entries")
    op.drop_table("timeline_entries")
