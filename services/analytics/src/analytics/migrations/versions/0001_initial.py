"""Order facts, order attributions, customer merges, and crm_common's outbox and processed-event
tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from crm_common import migrations

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_facts",
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("financial_status", sa.String(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total", sa.Numeric(), nullable=False),
        sa.Column("net_paid", sa.Numeric(), nullable=False),
        sa.Column("customer_ref", sa.String(), nullable=True),
        sa.Column("customer_id", sa.String(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("ix_order_facts_customer_id", "order_facts", ["customer_id"])
    op.create_index(
        "ix_order_facts_store_id_placed_at",
        "order_facts",
        ["store_id", "placed_at"],
        postgresql_include=["currency", "net_paid", "cancelled_at", "customer_id", "customer_ref"],
    )
    op.create_table(
        "order_attributions",
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("attributed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("ix_order_attributions_customer_id", "order_attributions", ["customer_id"])
    op.create_table(
        "customer_merges",
        sa.Column("merged_id", sa.String(), nullable=False),
        sa.Column("survivor_id", sa.String(), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("merged_id"),
    )
    op.create_index("ix_customer_merges_survivor_id", "customer_merges", ["survivor_id"])
    migrations.create_outbox_and_processed_events()


def downgrade() -> None:
    migrations.drop_outbox_and_processed_events()
    op.drop_index("ix_customer_merges_survivor_id", table_name="customer_merges")
    op.drop_table("customer_merges")
    op.drop_index("ix_order_attributions_customer_id", table_name="order_attributions")
    op.drop_table("order_attributions")
    op.drop_index("ix_order_facts_store_id_placed_at", table_name="order_facts")
    op.drop_index("ix_order_facts_customer_id", table_name="order_facts")
    op.drop_table("order_facts")
