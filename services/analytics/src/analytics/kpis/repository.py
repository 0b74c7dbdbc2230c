from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.facts.models import OrderFact

_facts = OrderFact.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class WindowTotals:
    """What the KPIs are computed from: exact sums, before any rounding."""

    orders: int
    revenue: Decimal
    customers: int
    repeat_customers: int
    """Customers with 2 or more orders in the window."""
    currencies: tuple[str, ...]
    """Every currency the counted orders are in, sorted."""


async def window_totals(
    *,
    session: AsyncSession,
    store_id: str,
    start: datetime,
    end: datetime,
    currency: str | None,
) -> WindowTotals:
    """Totals of the store's uncancelled orders placed in [start, end), in one statement."""
    conditions = [
        _facts.c.store_id == store_id,
        _facts.c.placed_at >= start,
        _facts.c.placed_at < end,
        _facts.c.cancelled_at.is_(None),
    ]
    if currency is not None:
        conditions.append(_facts.c.currency == currency)
    # A buyer is the attributed customer, or else the shop's own customer id; grouping by the
    # pair (with the shop id blanked once attributed) keeps the two kinds of id apart.
    shop_ref = case((_facts.c.customer_id.is_(None), _facts.c.customer_ref)).label("shop_ref")
    buyers = (
        select(
            _facts.c.customer_id,
            shop_ref,
            _facts.c.currency,
            func.count().label("orders"),
            func.sum(_facts.c.net_paid).label("revenue"),
        )
        .where(*conditions)
        .group_by(_facts.c.customer_id, shop_ref, _facts.c.currency)
        .subquery()
    )
    identified = or_(buyers.c.customer_id.is_not(None), buyers.c.shop_ref.is_not(None))
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(buyers.c.orders), 0),
                func.coalesce(func.sum(buyers.c.revenue), 0),
                func.count().filter(identified),
                func.count().filter(and_(identified, buyers.c.orders >= 2)),
                func.array_agg(buyers.c.currency.distinct()),
            )
        )
    ).one()
    orders, revenue, customers, repeat_customers, currencies = row
    return WindowTotals(
        orders=int(orders),
        revenue=Decimal(revenue),
        customers=customers,
        repeat_customers=repeat_customers,
        currencies=tuple(sorted(c for c in currencies or () if c is not None)),
    )
