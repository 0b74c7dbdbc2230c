"""payments, refunds, shipments and returns of orders; one stock movement per return

Each stored revision of an order keeps its records in four tables beside `order_lines`.
`stock_movements` gains `ref` (the return's key) in its primary key, so that every return of an
order restocks once, instead of one restock per order.

Revision ID: 0005_payments_shipments
Revises: 0004_inventory_carts
Create Date: 2026-11-27
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_payments_shipments"
down_revision: str | None = "0004_inventory_carts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str) -> "sa.Column[Any]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _text(name: str, length: int | None = None, *, nullable: bool = True) -> "sa.Column[Any]":
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def _json(name: str) -> "sa.Column[Any]":
    return sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), nullable=False)


def _record_table(name: str, *columns: "sa.Column[Any]") -> None:
    op.create_table(
        name,
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _text("external_id"),
        *columns,
        sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "position"),
    )


def upgrade() -> None:
    _record_table(
        "order_payments",
        _text("kind", 16, nullable=False),
        _text("status", 16, nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        _text("currency", 3, nullable=False),
        _text("gateway"),
        _utc("processed_at"),
        _text("parent_id"),
    )
    _record_table(
        "order_refunds",
        sa.Column("amount", sa.Numeric(), nullable=False),
        _text("currency", 3, nullable=False),
        _text("gateway"),
        _text("status", 16, nullable=False),
        _utc("processed_at"),
        _text("note"),
        sa.Column("restocked", sa.Boolean(), nullable=False),
        _json("lines"),
    )
    _record_table(
        "order_shipments",
        _text("status", 32, nullable=False),
        _text("carrier"),
        _json("tracking_numbers"),
        _json("tracking_urls"),
        _json("lines"),
        _utc("shipped_at"),
        _utc("updated_at"),
        _utc("delivered_at"),
    )
    _record_table(
        "order_returns",
        _text("status", 16, nullable=False),
        _json("lines"),
        _utc("requested_at"),
        _utc("received_at"),
    )
    # Existing movements are sales and cancels, whose reference is "".
    op.add_column(
        "stock_movements",
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""),
    )
    op.alter_column("stock_movements", "ref", server_default=None)
    op.drop_constraint("stock_movements_pkey", "stock_movements", type_="primary")
    op.create_primary_key("stock_movements_pkey", "stock_movements", ["order_id", "kind", "ref"])


def downgrade() -> None:
    # One restock per order again: keep the first return of each order (by its reference).
    op.execute(
        "DELETE FROM stock_movements m USING stock_movements o"
        " WHERE m.order_id = o.order_id AND m.kind = o.kind AND m.ref > o.ref"
    )
    op.drop_constraint("stock_movements_pkey", "stock_movements", type_="primary")
    op.create_primary_key("stock_movements_pkey", "stock_movements", ["order_id", "kind"])
    op.drop_column("stock_movements", "ref")
    for name in ("order_returns", "order_shipments", "order_refunds", "order_payments"):
        op.drop_table(name)
