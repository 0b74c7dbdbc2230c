"""Customers, their identities and attributed orders; the outbox and processed-event tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 12:42:59.910810
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
        "customers",
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("first_name", sa.String(), nullable=True),
        sa.Column("last_name", sa.String(), nullable=True),
        sa.Column("accepts_marketing", sa.Boolean(), nullable=False),
        sa.Column("orders_count", sa.Integer(), nullable=False),
        sa.Column("total_spent", sa.Numeric(), nullable=False),
        sa.Column("currency", sa.String(), nullable=True),
        sa.Column("first_order_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_order_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    migrations.create_outbox_and_processed_events()
    op.create_table(
        "customer_identities",
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_id", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
        ),
        sa.PrimaryKeyConstraint("kind", "store_id", "value"),
    )
    op.create_index(
        op.f("ix_customer_identities_customer_id"),
        "customer_identities",
        ["customer_id"],
        unique=False,
    )
    op.create_table(
        "customer_orders",
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("net_paid", sa.Numeric(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("order_version", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("first_name", sa.String(), nullable=True),
        sa.Column("last_name", sa.String(), nullable=True),
        sa.Column("accepts_marketing", sa.Boolean(), nullable=False),
        sa.Column("attributed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
        ),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index(
        op.f("ix_customer_orders_customer_id"), "customer_orders", ["customer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_orders_customer_id"), table_name="customer_orders")
    op.drop_table("customer_orders")
    op.drop_index(op.f("ix_customer_identities_customer_id"), table_name="customer_identities")
    op.drop_table("customer_identities")
    migrations.drop_outbox_and_processed_events()
    op.drop_table("customers")
