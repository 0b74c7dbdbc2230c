from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    func,
)
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
        # Listing is newest first with (placed_at, order_id) as the keyset, per store or overall.
        Index("ix_orders_store_placed", "store_id", "placed_at", "order_id"),
        Index("ix_orders_placed", "placed_at", "order_id"),
        Index("ix_orders_store_customer", "store_id", "customer_external_id"),
        # The store's last received order, for its sync status.
        Index("ix_orders_store_changed", "store_id", "changed_at"),
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
    customer_email: str | None = None
    customer_phone: str | None = None
    version: int
    body: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = _utc()
    """When order-sync first stored the order."""
    changed_at: datetime = _utc()
    """When order-sync last stored a change."""
    changed_via: str | None = Field(default=None, max_length=16)
    """The channel that delivered the stored revision (`orders.schemas.Channel`); null when the
    caller did not say, and for orders stored before channels were recorded."""


_orders = Order.__table__  # type: ignore[attr-defined, unused-ignore]
# Emails are matched case-insensitively: shops send them as the customer typed them.
Index("ix_orders_customer_email_lower", func.lower(_orders.c.customer_email))


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


class OrderRejection(SQLModel, table=True):
    """An order a shop sent that was refused (a batch item), kept for the store's sync status."""

    __tablename__ = "order_rejections"
    __table_args__ = (Index("ix_order_rejections_store", "store_id", "rejected_at"),)

    rejection_id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    store_id: str = Field(
        sa_column=Column(String(64), ForeignKey("stores.store_id"), nullable=False)
    )
    channel: str = Field(max_length=16)
    external_id: str | None = None
    errors: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    rejected_at: datetime = _utc()


# --- The order's own records, one row each, replaced with every stored revision -----------


def _order_fk() -> Any:
    return Field(
        sa_column=Column(
            String(36), ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True
        )
    )


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSONB, nullable=False))


class OrderPayment(SQLModel, table=True):
    """One payment transaction of the stored revision, in the order the shop listed them."""

    __tablename__ = "order_payments"

    order_id: str = _order_fk()
    position: int = Field(primary_key=True)
    external_id: str | None = None
    kind: str = Field(max_length=16)
    status: str = Field(max_length=16)
    amount: Decimal = _money()
    currency: str = Field(max_length=3)
    """The payment's currency, the order's when the shop named none."""
    gateway: str | None = None
    processed_at: datetime | None = _utc(nullable=True)
    parent_id: str | None = None


class OrderRefund(SQLModel, table=True):
    """One refund of the stored revision; `lines` are its refund lines as in the contract."""

    __tablename__ = "order_refunds"

    order_id: str = _order_fk()
    position: int = Field(primary_key=True)
    external_id: str | None = None
    amount: Decimal = _money()
    currency: str = Field(max_length=3)
    gateway: str | None = None
    status: str = Field(max_length=16)
    processed_at: datetime | None = _utc(nullable=True)
    note: str | None = None
    restocked: bool
    lines: list[dict[str, Any]] = _json_list()


class OrderShipment(SQLModel, table=True):
    """One shipment (fulfilment) of the stored revision."""

    __tablename__ = "order_shipments"

    order_id: str = _order_fk()
    position: int = Field(primary_key=True)
    external_id: str | None = None
    status: str = Field(max_length=32)
    carrier: str | None = None
    tracking_numbers: list[str] = _json_list()
    tracking_urls: list[str] = _json_list()
    lines: list[dict[str, Any]] = _json_list()
    shipped_at: datetime | None = _utc(nullable=True)
    updated_at: datetime | None = _utc(nullable=True)
    delivered_at: datetime | None = _utc(nullable=True)


class OrderReturn(SQLModel, table=True):
    """One return of the stored revision."""

    __tablename__ = "order_returns"

    order_id: str = _order_fk()
    position: int = Field(primary_key=True)
    external_id: str | None = None
    status: str = Field(max_length=16)
    lines: list[dict[str, Any]] = _json_list()
    requested_at: datetime | None = _utc(nullable=True)
    received_at: datetime | None = _utc(nullable=True)
