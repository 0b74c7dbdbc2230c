"""The amounts each order version contributes (kept to take them back when it changes), and
the roll-ups they are summed into."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Date, DateTime, Index, Numeric
from sqlmodel import Field, SQLModel


def _money() -> Any:
    return Field(sa_column=Column(Numeric, nullable=False))


def _at() -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SalesEntry(SQLModel, table=True):
    """One dated amount of an order's current version: its sale (position 0, on the day it was
    placed), each refund (on the day it was processed), its cancellation."""

    __tablename__ = "sales_entries"

    order_id: str = Field(primary_key=True)
    position: int = Field(primary_key=True)
    store_id: str
    currency: str = Field(max_length=3)
    at: datetime = _at()
    orders: int
    refunded_orders: int
    gross_sales: Decimal = _money()
    discounts: Decimal = _money()
    returns: Decimal = _money()
    shipping: Decimal = _money()
    taxes: Decimal = _money()


class LineEntry(SQLModel, table=True):
    """One dated amount of one SKU of an order's current version: sold (on the day it was
    placed), refunded or cancelled (on that day)."""

    __tablename__ = "line_entries"

    order_id: str = Field(primary_key=True)
    position: int = Field(primary_key=True)
    store_id: str
    currency: str = Field(max_length=3)
    at: datetime = _at()
    sku: str
    units: int
    gross_sales: Decimal = _money()
    discounts: Decimal = _money()
    returns: Decimal = _money()


class BuyerOrder(SQLModel, table=True):
    """A counted order of a buyer, with where it stands in the buyer's history (local days)."""

    __tablename__ = "buyer_orders"
    __table_args__ = (Index("ix_buyer_orders_store_id_buyer", "store_id", "buyer"),)

    order_id: str = Field(primary_key=True)
    store_id: str
    buyer: str
    """The attributed customer, or `ref:` and the shop's customer id while unattributed."""
    currency: str = Field(max_length=3)
    net_sales: Decimal = _money()
    day: date = Field(sa_column=Column(Date, nullable=False))
    previous_day: date = Field(sa_column=Column(Date, nullable=False))
    """The day of the buyer's order before this one; `-infinity` for the first."""
    second_day: date = Field(sa_column=Column(Date, nullable=False))
    """On the buyer's first order, the day of its second (`infinity` while none); else
    `infinity`."""
    first_day: date = Field(sa_column=Column(Date, nullable=False))
    first_in_month: bool
    """The buyer's first order in this local month."""


class SalesDay(SQLModel, table=True):
    """A store's sales on one local day in one currency."""

    __tablename__ = "sales_days"

    store_id: str = Field(primary_key=True)
    currency: str = Field(primary_key=True, max_length=3)
    day: date = Field(sa_column=Column(Date, primary_key=True))
    orders: int
    refunded_orders: int
    gross_sales: Decimal = _money()
    discounts: Decimal = _money()
    returns: Decimal = _money()
    shipping: Decimal = _money()
    taxes: Decimal = _money()


class SkuDay(SQLModel, table=True):
    """A SKU's sales on one local day."""

    __tablename__ = "sku_days"

    store_id: str = Field(primary_key=True)
    currency: str = Field(primary_key=True, max_length=3)
    day: date = Field(sa_column=Column(Date, primary_key=True))
    sku: str = Field(primary_key=True)
    units: int
    gross_sales: Decimal = _money()
    discounts: Decimal = _money()
    returns: Decimal = _money()


class SkuMonth(SQLModel, table=True):
    """`SkuDay` summed by local month (`month` is its first day), so that a long window reads
    its whole months here and only its ragged ends by day."""

    __tablename__ = "sku_months"

    store_id: str = Field(primary_key=True)
    currency: str = Field(primary_key=True, max_length=3)
    month: date = Field(sa_column=Column(Date, primary_key=True))
    sku: str = Field(primary_key=True)
    units: int
    gross_sales: Decimal = _money()
    discounts: Decimal = _money()
    returns: Decimal = _money()


class BuyerPair(SQLModel, table=True):
    """How many orders were placed on `y` by buyers whose order before was on `x`
    (`-infinity` for first orders), and how many of them were their buyer's second order; kept
    at three grains (`grain`): `dd` by day and day, `dm` by day and month of `y`, `mm` by
    month and month. Enough to count a window's distinct, new and one-time buyers by whole
    months plus the days at its ends (`rollups/buyers.py`)."""

    __tablename__ = "buyer_pairs"
    # A day's pairs are read by (y, x), from the index alone; those into months by (x, y).
    __table_args__ = (
        Index(
            "ix_buyer_pairs_store_id_grain_y_x",
            "store_id",
            "grain",
            "y",
            "x",
            postgresql_include=["orders", "seconds"],
        ),
    )

    store_id: str = Field(primary_key=True)
    grain: str = Field(primary_key=True, max_length=2)
    x: date = Field(sa_column=Column(Date, primary_key=True))
    y: date = Field(sa_column=Column(Date, primary_key=True))
    orders: int
    seconds: int


class GapMonth(SQLModel, table=True):
    """How many orders placed in `month` came `gap` local days after their buyer's order
    before: the days between orders of whole months."""

    __tablename__ = "gap_months"

    store_id: str = Field(primary_key=True)
    month: date = Field(sa_column=Column(Date, primary_key=True))
    gap: int = Field(primary_key=True)
    orders: int


class BuyerPeriod(SQLModel, table=True):
    """The buyer figures of one whole local day, week (from Monday) or month, refreshed when
    its orders change, so that a series reads a row per period."""

    __tablename__ = "buyer_periods"

    store_id: str = Field(primary_key=True)
    granularity: str = Field(primary_key=True, max_length=5)
    period_start: date = Field(sa_column=Column(Date, primary_key=True))
    buyers: int
    new_buyers: int
    one_time_buyers: int
    orders: int
    median_gap_days: int | None = None


class CohortMonth(SQLModel, table=True):
    """What the buyers first seen in `cohort` (a local month) did in `month`."""

    __tablename__ = "cohort_months"

    store_id: str = Field(primary_key=True)
    currency: str = Field(primary_key=True, max_length=3)
    cohort: date = Field(sa_column=Column(Date, primary_key=True))
    month: date = Field(sa_column=Column(Date, primary_key=True))
    buyers: int
    """Buyers of the cohort with an order this month (in this currency)."""
    orders: int
    net_sales: Decimal = _money()
    """Net sales of the orders placed this month, their later returns included."""
