"""inventory and carts: stock levels and per-order movements, carts, checkouts

Orders gain partial indexes on the checkout and cart ids they carry in `body`, by which the
abandonment sweeper tells whether an order followed a checkout.

Revision ID: 0004_inventory_carts
Revises: 0003_imports
Create Date: 2026-11-26
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_inventory_carts"
down_revision: str | None = "0003_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ORDER_REFS = ("checkout_id", "cart_token")


def _utc(name: str, *, nullable: bool = False) -> "sa.Column[Any]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int | None = None, *, nullable: bool = False) -> "sa.Column[Any]":
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "stock_levels",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        _text("sku"),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("low_stock_threshold", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _utc("updated_at"),
        sa.ForeignKeyConstraint(["store_id"], ["stores.store_id"]),
        sa.PrimaryKeyConstraint("store_id", "sku"),
    )
    op.create_table(
        "stock_movements",
        _text("order_id", 36),
        _text("kind", 32),
        _text("store_id", 64),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _utc("created_at"),
        sa.PrimaryKeyConstraint("order_id", "kind"),
    )
    op.create_table(
        "carts",
        _text("cart_id", 36),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        _text("external_id"),
        _text("customer_external_id", nullable=True),
        _text("customer_email", nullable=True),
        _text("currency", 3),
        sa.Column("total", sa.Numeric(), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _utc("updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        _utc("created_at"),
        _utc("changed_at"),
        sa.ForeignKeyConstraint(["store_id"], ["stores.store_id"]),
        sa.PrimaryKeyConstraint("cart_id"),
        sa.UniqueConstraint("store_id", "external_id", name="uq_carts_store_external"),
    )
    op.create_table(
        "checkouts",
        _text("checkout_id", 36),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        _text("external_id"),
        _text("cart_external_id", nullable=True),
        _text("customer_external_id", nullable=True),
        _text("customer_email", nullable=True),
        _text("currency", 3),
        sa.Column("total", sa.Numeric(), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _utc("started_at"),
        _utc("updated_at"),
        _utc("received_at"),
        _text("state", 16),
        _utc("abandoned_at", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _utc("created_at"),
        sa.ForeignKeyConstraint(["store_id"], ["stores.store_id"]),
        sa.PrimaryKeyConstraint("checkout_id"),
        sa.UniqueConstraint("store_id", "external_id", name="uq_checkouts_store_external"),
    )
    op.create_index(
        "ix_checkouts_state_updated", "checkouts", ["state", "updated_at"], unique=False
    )
    for name in _ORDER_REFS:
        op.create_index(
            f"ix_orders_{name}",
            "orders",
            ["store_id", sa.literal_column(f"(body ->> '{name}')")],
            unique=False,
            postgresql_where=sa.text(f"(body ->> '{name}') IS NOT NULL"),
        )


def downgrade() -> None:
    for name in _ORDER_REFS:
        op.drop_index(f"ix_orders_{name}", table_name="orders")
    op.drop_index("ix_checkouts_state_updated", table_name="checkouts")
    op.drop_table("checkouts")
    op.drop_table("carts")
    op.drop_table("stock_movements")
    op.drop_table("stock_levels")
