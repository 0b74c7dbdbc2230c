"""initial: stores, orders, order lines, and crm_common's outbox and processed events

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from crm_common import migrations
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrations.create_outbox_and_processed_events()
    op.create_table(
        "stores",
        sa.Column("store_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("webhook_secret", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("store_id"),
    )
    op.create_table(
        "orders",
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("financial_status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column(
            "fulfillment_status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False
        ),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discount_total", sa.Numeric(), nullable=False),
        sa.Column("shipping_total", sa.Numeric(), nullable=False),
        sa.Column("tax_total", sa.Numeric(), nullable=False),
        sa.Column("total", sa.Numeric(), nullable=False),
        sa.Column("refunded_total", sa.Numeric(), nullable=False),
        sa.Column("net_paid", sa.Numeric(), nullable=False),
        sa.Column("customer_external_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("customer_email", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("customer_phone", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.store_id"],
        ),
        sa.PrimaryKeyConstraint("order_id"),
        sa.UniqueConstraint("store_id", "external_id", name="uq_orders_store_external"),
    )
    op.create_index(op.f("ix_orders_customer_email"), "orders", ["customer_email"], unique=False)
    op.create_index(
        "ix_orders_store_customer", "orders", ["store_id", "customer_external_id"], unique=False
    )
    op.create_index("ix_orders_store_placed", "orders", ["store_id", "placed_at"], unique=False)
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(), nullable=False),
        sa.Column("discount_total", sa.Numeric(), nullable=True),
        sa.Column("total", sa.Numeric(), nullable=True),
        sa.Column("variant_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("product_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "position"),
    )
    op.create_index(op.f("ix_order_lines_sku"), "order_lines", ["sku"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_order_lines_sku"), table_name="order_lines")
    op.drop_table("order_lines")
    op.drop_index("ix_orders_store_placed", table_name="orders")
    op.drop_index("ix_orders_store_customer", table_name="orders")
    op.drop_index(op.f("ix_orders_customer_email"), table_name="orders")
    op.drop_table("orders")
    op.drop_table("stores")
    migrations.drop_outbox_and_processed_events()
