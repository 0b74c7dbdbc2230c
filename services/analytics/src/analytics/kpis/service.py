"""Headline KPIs: the rounding rules, and which orders count."""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.kpis import repository
from analytics.kpis.exceptions import MixedCurrencies
from analytics.kpis.repository import WindowTotals

MONEY_PLACES = Decimal("0.01")
RATE_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Kpis:
    orders: int
    revenue: Decimal
    customers: int
    aov: Decimal
    repeat_purchase_rate: Decimal
    currency: str | None


def compute_kpis(totals: WindowTotals, *, currency: str | None = None) -> Kpis:
    """Round the exact totals: money to 2 places, the repeat rate to 4, halves away from zero."""
    if len(totals.currencies) > 1:
        raise MixedCurrencies(totals.currencies)
    revenue = totals.revenue.quantize(MONEY_PLACES, ROUND_HALF_UP)
    # AOV divides the exact revenue, so the rounding of the sum does not leak into the average.
    aov = totals.revenue / totals.orders if totals.orders else Decimal(0)
    rate = (
        Decimal(totals.repeat_customers) / Decimal(totals.customers)
        if totals.customers
        else Decimal(0)
    )
    return Kpis(
        orders=totals.orders,
        revenue=revenue,
        customers=totals.customers,
        aov=aov.quantize(MONEY_PLACES, ROUND_HALF_UP),
        repeat_purchase_rate=rate.quantize(RATE_PLACES, ROUND_HALF_UP),
        currency=totals.currencies[0] if totals.currencies else currency,
    )


async def get_kpis(
    *,
    session: AsyncSession,
    store_id: str,
    start: datetime,
    end: datetime,
    currency: str | None = None,
) -> Kpis:
    """KPIs of the store's uncancelled orders placed in [start, end), in `currency` if given."""
    totals = await repository.window_totals(
        session=session, store_id=store_id, start=start, end=end, currency=currency
    )
    return compute_kpis(totals, currency=currency)
