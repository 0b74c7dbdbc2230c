from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from order_sync.orders.models import Order


class CheckoutState(StrEnum):
    OPEN = "open"
    """Not decided yet: activity may go on, or an order may follow."""
    ABANDONED = "abandoned"
    """Idle with no order after it; announced (once)."""
    CONVERTED = "converted"
    """An order followed it before it was found idle."""


def _utc(*, nullable: bool = False) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _money() -> Any:
    return Field(sa_column=Column(Numeric(asdecimal=True), nullable=False))


class Cart(SQLModel, table=True):
    """The latest revision of a shop's cart; `body` is the canonical cart as sent."""

    __tablename__ = "carts"
    __table_args__ = (UniqueConstraint("store_id", "external_id", name="uq_carts_store_external"),)

    cart_id: str = Field(primary_key=True, max_length=36)
    store_id: str = Field(
        sa_column=Column(String(64), ForeignKey("stores.store_id"), nullable=False)
    )
    external_id: str
    customer_external_id: str | None = None
    customer_email: str | None = None
    currency: str = Field(max_length=3)
    total: Decimal = _money()
    body: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    updated_at: datetime = _utc()
    """The shop's time of this revision: a revision that is not newer changes nothing."""
    version: int
    created_at: datetime = _utc()
    changed_at: datetime = _utc()


class Checkout(SQLModel, table=True):
    """The latest revision of a shop's checkout, and whether it was abandoned."""

    __tablename__ = "checkouts"
    __table_args__ = (
        UniqueConstraint("store_id", "external_id", name="uq_checkouts_store_external"),
        # The sweeper's query: open checkouts by last activity.
        Index("ix_checkouts_state_updated", "state", "updated_at"),
    )

    checkout_id: str = Field(primary_key=True, max_length=36)
    store_id: str = Field(
        sa_column=Column(String(64), ForeignKey("stores.store_id"), nullable=False)
    )
    external_id: str
    cart_external_id: str | None = None
    customer_external_id: str | None = None
    customer_email: str | None = None
    currency: str = Field(max_length=3)
    total: Decimal = _money()
    body: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    started_at: datetime = _utc()
    updated_at: datetime = _utc()
    """The shop's time of the last activity."""
    received_at: datetime = _utc()
    """When order-sync last stored a change: a checkout is idle only once both times are old,
    so a late-delivered checkout leaves its order time to arrive too."""
    state: str = Field(max_length=16)
    abandoned_at: datetime | None = _utc(nullable=True)
    version: int
    created_at: datetime = _utc()


_orders = Order.__table__  # type: ignore[attr-defined, unused-ignore]
# Whether an order followed a checkout is looked up by the checkout and cart ids orders carry
# (in `body`); partial, since most orders carry neither.
for _name in ("checkout_id", "cart_token"):
    Index(
        f"ix_orders_{_name}",
        _orders.c.store_id,
        _orders.c.body[_name].astext,
        postgresql_where=_orders.c.body[_name].astext.isnot(None),
    )
