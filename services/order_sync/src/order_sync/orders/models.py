from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


def _money(*, nullable: bool = False) -> Any:
    # Unconstrained NUMERIC keeps an amount exactly as the shop stated it, scale included.
    return Field(sa_column=Column(Numeric(asdecimal=True), nullable=nullable))


def _utc(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index))


class Order(SQLModel, table=True):
    """The latest stored revision of a shop order; `body` is the canonical order as sent."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "external_id", name="uq_orders_store_external"),
        Index("ix_orders_store_placed", "store_id", "placed_at"),
        Index("ix_orders_store_customer", "store_id", "customer_external_id"),
    )

    order_id: str = Field(primary_key=True, max_length=36)
    store_id: str = Field(
        sa_column=Column(String(64), ForeignKey("stores.store_id"), nullable=False)
    )
    external_id: str
    placed_at: datetime = _utc()
    updated_at: datetime = _utc()
    currency: str = Field(max_length=3)
    financial_status: str = Field(max_length=32)
    fulfillment_status: str = Field(max_length=32)
    cancelled_at: datetime | None = _utc(nullable=True)
    discount_total: Decimal = _money()
    shipping_total: Decimal = _money()
    tax_total: Decimal = _money()
    total: Decimal = _money()
    refunded_total: Decimal = _money()
    net_paid: Decimal = _money()
    customer_external_id: str | None = None
    customer_email: str | None = Field(default=None, index=True)
    customer_phone: str | None = None
    version: int
    body: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = _utc()
    """When order-sync first stored the order."""
    changed_at: datetime = _utc()
    """When order-sync last stored a change."""


class OrderLine(SQLModel, table=True):
    """One line item of the stored revision, in the order the shop listed them."""

    __tablename__ = "order_lines"

    order_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True
        )
    )
    position: int = Field(primary_key=True)
    external_id: str | None = None
    sku: str | None = Field(default=None, index=True)
    name: str
    quantity: int
    unit_price: Decimal = _money()
    discount_total: Decimal | None = _money(nullable=True)
    total: Decimal | None = _money(nullable=True)
    variant_id: str | None = None
    product_id: str | None = None
