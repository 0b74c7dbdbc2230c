"""Sales roll-ups: store settings, each order version's dated amounts, buyers' histories, and
the daily, monthly and cohort sums

Revision ID: 0004_sales_rollups
Revises: 0003_clv_predictions
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_sales_rollups"
down_revision: str | None = "0003_clv_predictions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _money(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Numeric(), nullable=False)


def _amounts() -> list[sa.Column]:  # type: ignore[type-arg]
    return [_money("gross_sales"), _money("discounts"), _money("returns")]


def upgrade() -> None:
    op.add_column(
        "order_facts",
        sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column(
        "order_facts", sa.Column("net_sales", sa.Numeric(), nullable=False, server_default="0")
    )
    op.alter_column("order_facts", "counted", server_default=None)
    op.alter_column("order_facts", "net_sales", server_default=None)
    # Facts stored before the roll-ups carry no lines: version 0 lets a replay of
    # crm.orders.v1 from its beginning store every order again, lines and all.
    op.execute("UPDATE order_facts SET version = 0")
    op.create_index(
        "ix_order_facts_store_id_customer_ref", "order_facts", ["store_id", "customer_ref"]
    )
    op.create_table(
        "store_settings",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("time_zone", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("store_id"),
    )
    op.create_table(
        "sales_entries",
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("refunded_orders", sa.Integer(), nullable=False),
        *_amounts(),
        _money("shipping"),
        _money("taxes"),
        sa.PrimaryKeyConstraint("order_id", "position"),
    )
    op.create_table(
        "line_entries",
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        *_amounts(),
        sa.PrimaryKeyConstraint("order_id", "position"),
    )
    op.create_table(
        "buyer_orders",
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("buyer", sa.String(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("net_sales"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("previous_day", sa.Date(), nullable=False),
        sa.Column("second_day", sa.Date(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("first_in_month", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("ix_buyer_orders_store_id_buyer", "buyer_orders", ["store_id", "buyer"])
    op.create_table(
        "sales_days",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("refunded_orders", sa.Integer(), nullable=False),
        *_amounts(),
        _money("shipping"),
        _money("taxes"),
        sa.PrimaryKeyConstraint("store_id", "currency", "day"),
    )
    for table, period in (("sku_days", "day"), ("sku_months", "month")):
        op.create_table(
            table,
            sa.Column("store_id", sa.String(), nullable=False),
            sa.Column("currency", sa.String(length=3), nullable=False),
            sa.Column(period, sa.Date(), nullable=False),
            sa.Column("sku", sa.String(), nullable=False),
            sa.Column("units", sa.Integer(), nullable=False),
            *_amounts(),
            sa.PrimaryKeyConstraint("store_id", "currency", period, "sku"),
        )
    op.create_table(
        "buyer_days",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("previous_day", sa.Date(), nullable=False),
        sa.Column("second_day", sa.Date(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "day", "previous_day", "second_day"),
    )
    op.create_table(
        "cohort_months",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cohort", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("buyers", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        _money("net_sales"),
        sa.PrimaryKeyConstraint("store_id", "currency", "cohort", "month"),
    )


def downgrade() -> None:
    for table in (
        "cohort_months",
        "buyer_days",
        "sku_months",
        "sku_days",
        "sales_days",
        "buyer_orders",
        "line_entries",
        "sales_entries",
        "store_settings",
    ):
        op.drop_table(table)
    op.drop_index("ix_order_facts_store_id_customer_ref", table_name="order_facts")
    op.drop_column("order_facts", "net_sales")
    op.drop_column("order_facts", "counted")
