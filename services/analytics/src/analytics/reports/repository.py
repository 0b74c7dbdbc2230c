"""Every read of the reports: sums of roll-up rows over ranges of local days, never a row per
order or per buyer."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

Bucket = tuple[date, date]
"""[start, end) in local days."""

_BUCKETS = (
    "WITH buckets AS (SELECT * FROM unnest(CAST(:starts AS date[]), CAST(:ends AS date[])) "
    "AS b(a, b)) "
)
_CURRENCIES = text(
    "SELECT DISTINCT currency FROM sales_days WHERE store_id = :store_id "
    "AND day >= :start AND day < :end "
    # Rows a correction brought back to zero stay (they are adjusted, never deleted).
    "AND (orders <> 0 OR gross_sales <> 0 OR returns <> 0 OR shipping <> 0 OR taxes <> 0) "
    "ORDER BY currency"
)
_SALES = text(
    _BUCKETS + "SELECT b.a, b.b, coalesce(sum(d.orders), 0), coalesce(sum(d.refunded_orders), 0), "
    "coalesce(sum(d.gross_sales), 0), coalesce(sum(d.discounts), 0), "
    "coalesce(sum(d.returns), 0), coalesce(sum(d.shipping), 0), coalesce(sum(d.taxes), 0) "
    "FROM buckets AS b LEFT JOIN sales_days AS d ON d.store_id = :store_id "
    "AND d.currency = :currency AND d.day >= b.a AND d.day < b.b GROUP BY b.a, b.b"
)
# A buyer counts in a window once, by its first order there: the order whose previous one
# (of the same buyer) came before the window. New buyers' first orders ever are in it;
# one-time buyers are new ones whose second order is not before the window's end.
_BUYERS = text(
    _BUCKETS + ", rows AS MATERIALIZED (SELECT b.a, b.b, g.day, g.previous_day, g.second_day, "
    "g.orders FROM buckets AS b JOIN buyer_days AS g ON g.store_id = :store_id "
    "AND g.day >= b.a AND g.day < b.b AND g.orders <> 0), "
    "counts AS (SELECT a, b, sum(orders) FILTER (WHERE previous_day < a) AS buyers, "
    "sum(orders) FILTER (WHERE previous_day = '-infinity') AS new_buyers, "
    "sum(orders) FILTER (WHERE previous_day = '-infinity' AND second_day >= b) AS one_time, "
    "sum(orders) AS orders FROM rows GROUP BY a, b), "
    "gaps AS (SELECT a, b, day - previous_day AS gap, sum(orders) AS n FROM rows "
    "WHERE previous_day > '-infinity' GROUP BY 1, 2, 3), "
    "running AS (SELECT a, b, gap, sum(n) OVER (PARTITION BY a, b ORDER BY gap) AS upto, "
    "sum(n) OVER (PARTITION BY a, b) AS total FROM gaps), "
    "medians AS (SELECT a, b, min(gap) AS median FROM running WHERE 2 * upto >= total "
    "GROUP BY a, b) "
    "SELECT counts.a, counts.b, buyers, new_buyers, one_time, orders, median "
    "FROM counts LEFT JOIN medians USING (a, b)"
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
class BuyerCounts:
    buyers: int
    new_buyers: int
    one_time_buyers: int
    """New buyers with no second order before the window's end."""
    orders: int
    """Orders of identified buyers."""
    median_gap_days: int | None


NO_BUYERS = BuyerCounts(0, 0, 0, 0, None)


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


def _bucket_params(buckets: Sequence[Bucket]) -> dict[str, list[date]]:
    return {"starts": [a for a, _ in buckets], "ends": [b for _, b in buckets]}


async def currencies(*, session: AsyncSession, store_id: str, start: date, end: date) -> list[str]:
    rows = await session.execute(_CURRENCIES, {"store_id": store_id, "start": start, "end": end})
    return list(rows.scalars())


async def sales(
    *, session: AsyncSession, store_id: str, currency: str, buckets: Sequence[Bucket]
) -> dict[Bucket, SalesSums]:
    """The sales of each bucket."""
    rows = await session.execute(
        _SALES, {"store_id": store_id, "currency": currency, **_bucket_params(buckets)}
    )
    return {
        (row[0], row[1]): SalesSums(int(row[2]), int(row[3]), *(Decimal(v) for v in row[4:]))
        for row in rows.all()
    }


async def buyers(
    *, session: AsyncSession, store_id: str, buckets: Sequence[Bucket]
) -> dict[Bucket, BuyerCounts]:
    """The buyers of each bucket (in every currency); buckets without orders are left out."""
    rows = await session.execute(_BUYERS, {"store_id": store_id, **_bucket_params(buckets)})
    return {
        (a, b): BuyerCounts(
            buyers=int(buyers or 0),
            new_buyers=int(new or 0),
            one_time_buyers=int(one_time or 0),
            orders=int(orders or 0),
            median_gap_days=median,
        )
        for a, b, buyers, new, one_time, orders, median in rows.all()
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
