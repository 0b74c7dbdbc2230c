"""Every read of the reports: sums of roll-up rows over ranges of local days, never a row per
order or per buyer."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.rollups import repository as rollups
from analytics.rollups.buyers import BuyerCounts, Window, pieces

Bucket = tuple[date, date]
"""[start, end) in local days."""

_CURRENCIES = text(
    "SELECT DISTINCT currency FROM sales_days WHERE store_id = :store_id "
    "AND day >= :start AND day < :end "
    # Rows a correction brought back to zero stay (they are adjusted, never deleted).
    "AND (orders <> 0 OR gross_sales <> 0 OR returns <> 0 OR shipping <> 0 OR taxes <> 0) "
    "ORDER BY currency"
)
# Each day read once, summed into its period (the first one starting with the window).
_SALES = text(
    "SELECT greatest(date_trunc(:unit, day)::date, :start) AS period, sum(orders), "
    "sum(refunded_orders), sum(gross_sales), sum(discounts), sum(returns), sum(shipping), "
    "sum(taxes) FROM sales_days WHERE store_id = :store_id AND currency = :currency "
    "AND day >= :start AND day < :end GROUP BY 1"
)
_PERIOD_BUYERS = text(
    "SELECT period_start, buyers, new_buyers, one_time_buyers, orders, median_gap_days "
    "FROM buyer_periods WHERE store_id = :store_id AND granularity = :granularity "
    "AND period_start >= :start AND period_start < :end"
)
_PRODUCTS = (
    "SELECT sku, sum(units), sum(gross_sales), sum(discounts), sum(returns) FROM ("
    "SELECT sku, units, gross_sales, discounts, returns FROM sku_days "
    "WHERE store_id = :store_id AND currency = :currency "
    "AND ((day >= :start AND day < :first_month) OR (day >= :end_month AND day < :end)) "
    "UNION ALL SELECT sku, units, gross_sales, discounts, returns FROM sku_months "
    "WHERE store_id = :store_id AND currency = :currency "
    "AND month >= :first_month AND month < :end_month) AS sold GROUP BY sku "
    "HAVING sum(units) <> 0 OR sum(gross_sales) <> 0 OR sum(returns) <> 0 "
)
_BY_NET_SALES = text(
    _PRODUCTS + "ORDER BY sum(gross_sales) - sum(discounts) - sum(returns) DESC, sku LIMIT :limit"
)
_BY_UNITS = text(_PRODUCTS + "ORDER BY sum(units) DESC, sku LIMIT :limit")
_COHORTS = text(
    "SELECT cohort, month, buyers, orders, net_sales FROM cohort_months "
    "WHERE store_id = :store_id AND currency = :currency AND cohort >= :start AND cohort < :end "
    "AND (buyers <> 0 OR orders <> 0 OR net_sales <> 0) "
    "ORDER BY cohort, month"
)


@dataclass(frozen=True, slots=True)
class SalesSums:
    orders: int
    refunded_orders: int
    gross_sales: Decimal
    discounts: Decimal
    returns: Decimal
    shipping: Decimal
    taxes: Decimal


@dataclass(frozen=True, slots=True)
class ProductSums:
    sku: str
    units: int
    gross_sales: Decimal
    discounts: Decimal
    returns: Decimal


@dataclass(frozen=True, slots=True)
class CohortCell:
    cohort: date
    month: date
    buyers: int
    orders: int
    net_sales: Decimal


async def currencies(*, session: AsyncSession, store_id: str, start: date, end: date) -> list[str]:
    rows = await session.execute(_CURRENCIES, {"store_id": store_id, "start": start, "end": end})
    return list(rows.scalars())


async def sales(
    *,
    session: AsyncSession,
    store_id: str,
    currency: str,
    start: date,
    end: date,
    granularity: str,
) -> dict[date, SalesSums]:
    """The sales of [start, end) by the start of each day, week or month in it (the first
    period starts with the window); periods without sales are left out."""
    rows = await session.execute(
        _SALES,
        {
            "store_id": store_id,
            "currency": currency,
            "start": start,
            "end": end,
            "unit": granularity,
        },
    )
    return {
        row[0]: SalesSums(int(row[1]), int(row[2]), *(Decimal(v) for v in row[3:]))
        for row in rows.all()
    }


async def window_buyers(
    *, session: AsyncSession, windows: Sequence[Window]
) -> dict[int, BuyerCounts]:
    """The buyers of each window (in every currency), by index; windows without orders are
    left out."""
    return await rollups.window_buyers(session=session, pieces=pieces(windows))


async def period_buyers(
    *, session: AsyncSession, store_id: str, granularity: str, start: date, end: date
) -> dict[date, BuyerCounts]:
    """The stored buyers of the store's whole periods starting in [start, end)."""
    rows = await session.execute(
        _PERIOD_BUYERS,
        {"store_id": store_id, "granularity": granularity, "start": start, "end": end},
    )
    return {
        period: BuyerCounts(buyers, new, one_time, orders, median)
        for period, buyers, new, one_time, orders, median in rows.all()
    }


async def products(
    *,
    session: AsyncSession,
    store_id: str,
    currency: str,
    start: date,
    end: date,
    first_month: date,
    end_month: date,
    by_units: bool,
    limit: int,
) -> list[ProductSums]:
    """Each SKU's sums over [start, end): the whole months [first_month, end_month) from the
    monthly roll-up, the days around them from the daily one."""
    rows = await session.execute(
        _BY_UNITS if by_units else _BY_NET_SALES,
        {
            "store_id": store_id,
            "currency": currency,
            "start": start,
            "end": end,
            "first_month": first_month,
            "end_month": end_month,
            "limit": limit,
        },
    )
    return [ProductSums(row[0], int(row[1]), *(Decimal(v) for v in row[2:])) for row in rows]


async def cohorts(
    *, session: AsyncSession, store_id: str, currency: str, start: date, end: date
) -> list[CohortCell]:
    """The cohorts first seen in the months from `start`'s to before `end`."""
    rows = await session.execute(
        _COHORTS, {"store_id": store_id, "currency": currency, "start": start, "end": end}
    )
    return [CohortCell(row[0], row[1], int(row[2]), int(row[3]), Decimal(row[4])) for row in rows]
