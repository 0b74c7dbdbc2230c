from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Self

from crm_events.types import Currency
from pydantic import BaseModel, ConfigDict, Field, model_validator

from analytics.kpis.schemas import DecimalString

MAX_WINDOW_DAYS = 3 * 366 + 365
"""A little over four years: the three the reports are built for, and a comparison year."""


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    """Weeks begin on Monday."""
    MONTH = "month"


class Compare(StrEnum):
    PREVIOUS_PERIOD = "previous_period"
    """The window of the same length just before."""
    PREVIOUS_YEAR = "previous_year"
    """The same dates a year before."""


class ReportQuery(BaseModel):
    """A store and a window of its local days [from, to)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    store_id: str = Field(min_length=1)
    start: date = Field(alias="from", description="First day, included (the store's local day)")
    end: date = Field(alias="to", description="Last day, excluded (the store's local day)")
    currency: Currency | None = None
    """Required when the window holds sales in more than one currency."""

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.end <= self.start:
            raise ValueError("`to` must be later than `from`")
        if self.end - self.start > timedelta(days=MAX_WINDOW_DAYS):
            raise ValueError(f"the window may span at most {MAX_WINDOW_DAYS} days")
        if self.start < date(1970, 1, 2) or self.end > date(9998, 1, 1):
            raise ValueError("the window must fall between 1970 and 9998")
        return self


class SalesQuery(ReportQuery):
    granularity: Granularity = Granularity.DAY
    compare: Compare | None = None


class ProductSort(StrEnum):
    NET_SALES = "net_sales"
    UNITS = "units"


class ProductsQuery(ReportQuery):
    sort: ProductSort = ProductSort.NET_SALES
    limit: int = Field(default=50, ge=1, le=1000)


class SalesFigures(BaseModel):
    """The sales of a window, by Shopify's definitions (README: Sales report)."""

    orders: int
    gross_sales: DecimalString
    discounts: DecimalString
    returns: DecimalString
    net_sales: DecimalString
    shipping: DecimalString
    taxes: DecimalString
    total_sales: DecimalString
    aov: DecimalString
    refunded_orders: int
    refund_rate: DecimalString
    buyers: int
    new_buyers: int
    returning_buyers: int
    returning_customer_rate: DecimalString
    repeat_purchase_rate: DecimalString
    purchase_frequency: DecimalString
    median_days_between_orders: int | None


class SalesPeriod(SalesFigures):
    period_start: date
    period_end: date
    """Excluded."""


class ComparedWindow(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    totals: SalesFigures


class SalesReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    store_id: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    time_zone: str
    currency: str | None
    granularity: Granularity
    totals: SalesFigures
    series: list[SalesPeriod]
    compare: ComparedWindow | None


class ProductRow(BaseModel):
    sku: str
    units: int
    gross_sales: DecimalString
    discounts: DecimalString
    returns: DecimalString
    net_sales: DecimalString


class ProductsReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    store_id: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    time_zone: str
    currency: str | None
    sort: ProductSort
    products: list[ProductRow]


class CohortRow(BaseModel):
    cohort: date
    """The month of the cohort's first orders (its first day)."""
    months_since_first_order: int
    customers: int
    """The cohort's size: buyers whose first order fell in its month."""
    active_customers: int
    """Of those, the buyers with an order in this month."""
    share_buying_again: DecimalString
    """active / customers for months after the first; 4 places."""
    orders: int
    net_sales: DecimalString
    cumulative_net_sales_per_customer: DecimalString


class CohortsReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    store_id: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    time_zone: str
    currency: str | None
    cohorts: list[CohortRow]


ZERO = Decimal(0)
