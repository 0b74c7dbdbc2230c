"""The reports' definitions: how the roll-ups' sums become the published figures, and which
windows a report reads."""

import calendar
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.kpis.exceptions import MixedCurrencies
from analytics.reports import repository
from analytics.reports.repository import Bucket, SalesSums
from analytics.reports.schemas import (
    CohortRow,
    CohortsReport,
    Compare,
    ComparedWindow,
    Granularity,
    ProductRow,
    ProductSort,
    ProductsQuery,
    ProductsReport,
    ReportQuery,
    SalesFigures,
    SalesPeriod,
    SalesQuery,
    SalesReport,
)
from analytics.rollups.buyers import (
    NO_BUYERS,
    BuyerCounts,
    Window,
    first_of_next_month,
    is_whole_period,
)
from analytics.stores.repository import time_zone_of

MONEY = Decimal("0.01")
RATE = Decimal("0.0001")
ZERO = Decimal(0)
NO_SALES = SalesSums(0, 0, ZERO, ZERO, ZERO, ZERO, ZERO)


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY, ROUND_HALF_UP)


def _ratio(part: Decimal | int, whole: Decimal | int, places: Decimal = RATE) -> Decimal:
    return (
        (Decimal(part) / Decimal(whole)).quantize(places, ROUND_HALF_UP) if whole else ZERO * places
    )


def sales_figures(sales: SalesSums, buyers: BuyerCounts) -> SalesFigures:
    """The figures of a window from its sums (README: Sales report, for the formulas)."""
    return SalesFigures.model_construct(**_figures(sales, buyers))


def _figures(sales: SalesSums, buyers: BuyerCounts) -> dict[str, Any]:
    # Built without validation (a series has a row per day): every value is already of its
    # field's type.
    net = sales.gross_sales - sales.discounts - sales.returns
    returning = buyers.buyers - buyers.new_buyers
    return {
        "orders": sales.orders,
        "gross_sales": _money(sales.gross_sales),
        "discounts": _money(sales.discounts),
        "returns": _money(sales.returns),
        "net_sales": _money(net),
        "shipping": _money(sales.shipping),
        "taxes": _money(sales.taxes),
        "total_sales": _money(net + sales.shipping + sales.taxes),
        "aov": _ratio(sales.gross_sales - sales.discounts, sales.orders, MONEY),
        "refunded_orders": sales.refunded_orders,
        "refund_rate": _ratio(sales.refunded_orders, sales.orders),
        "buyers": buyers.buyers,
        "new_buyers": buyers.new_buyers,
        "returning_buyers": returning,
        "returning_customer_rate": _ratio(returning, buyers.buyers),
        "repeat_purchase_rate": _ratio(buyers.buyers - buyers.one_time_buyers, buyers.buyers),
        "purchase_frequency": _ratio(buyers.orders, buyers.buyers),
        "median_days_between_orders": buyers.median_gap_days,
    }


def buckets(start: date, end: date, granularity: Granularity) -> list[Bucket]:
    """[start, end) cut into days, weeks (from Monday) or calendar months; the first and last
    may be partial."""
    cuts: list[Bucket] = []
    at = start
    while at < end:
        if granularity is Granularity.DAY:
            following = at + timedelta(days=1)
        elif granularity is Granularity.WEEK:
            following = at + timedelta(days=7 - at.weekday())
        else:
            following = first_of_next_month(at)
        cuts.append((at, min(following, end)))
        at = following
    return cuts


def compared_window(start: date, end: date, compare: Compare) -> Bucket:
    """The window a report is compared with."""
    if compare is Compare.PREVIOUS_PERIOD:
        return start - (end - start), start
    return _year_before(start), _year_before(end)


def _year_before(day: date) -> date:
    last = calendar.monthrange(day.year - 1, day.month)[1]
    return date(day.year - 1, day.month, min(day.day, last))


async def _currency(*, session: AsyncSession, query: ReportQuery) -> str | None:
    if query.currency is not None:
        return query.currency
    found = await repository.currencies(
        session=session, store_id=query.store_id, start=query.start, end=query.end
    )
    if len(found) > 1:
        raise MixedCurrencies(found)
    return found[0] if found else None


def _total(sums: Iterable[SalesSums]) -> SalesSums:
    parts = list(sums)
    return SalesSums(
        orders=sum(p.orders for p in parts),
        refunded_orders=sum(p.refunded_orders for p in parts),
        gross_sales=sum((p.gross_sales for p in parts), ZERO),
        discounts=sum((p.discounts for p in parts), ZERO),
        returns=sum((p.returns for p in parts), ZERO),
        shipping=sum((p.shipping for p in parts), ZERO),
        taxes=sum((p.taxes for p in parts), ZERO),
    )


async def sales_report(*, session: AsyncSession, query: SalesQuery) -> SalesReport:
    """Totals and series of the store's sales over the window, and the compared window's.

    Sales add up, so each day is read once into its period and the periods summed. Buyers do
    not: the whole periods' are stored (`buyer_periods`), and the window, the compared window
    and the partial periods at the ends are each counted from the buyer roll-ups at once.
    """
    store_id, granularity = query.store_id, query.granularity
    currency = await _currency(session=session, query=query)
    cuts = buckets(query.start, query.end, granularity)
    before = (
        compared_window(query.start, query.end, query.compare)
        if query.compare is not None
        else None
    )
    sales: dict[date, SalesSums] = {}
    compared_sales = NO_SALES
    if currency is not None:
        sales = await repository.sales(
            session=session,
            store_id=store_id,
            currency=currency,
            start=query.start,
            end=query.end,
            granularity=granularity,
        )
        if before is not None:
            found = await repository.sales(
                session=session,
                store_id=store_id,
                currency=currency,
                start=before[0],
                end=before[1],
                granularity=Granularity.MONTH,
            )
            compared_sales = _total(found.values())
    stored = await repository.period_buyers(
        session=session,
        store_id=store_id,
        granularity=granularity,
        start=query.start,
        end=query.end,
    )
    partial = [cut for cut in cuts if not is_whole_period(*cut, granularity)]
    live = [(query.start, query.end), *partial, *([before] if before is not None else [])]
    counted = await repository.window_buyers(
        session=session, windows=[Window(store_id, start, end) for start, end in live]
    )
    found_buyers = {cut: counted.get(index, NO_BUYERS) for index, cut in enumerate(live)}

    def buyers_of(cut: Bucket) -> BuyerCounts:
        if cut in found_buyers:
            return found_buyers[cut]
        return stored.get(cut[0], NO_BUYERS)

    compared = None
    if before is not None:
        compared = ComparedWindow(
            start=before[0],
            end=before[1],
            totals=sales_figures(compared_sales, found_buyers[before]),
        )
    return SalesReport(
        store_id=store_id,
        start=query.start,
        end=query.end,
        time_zone=await time_zone_of(session=session, store_id=store_id),
        currency=currency,
        granularity=granularity,
        totals=sales_figures(_total(sales.values()), found_buyers[(query.start, query.end)]),
        series=[
            SalesPeriod.model_construct(
                period_start=a,
                period_end=b,
                **_figures(sales.get(a, NO_SALES), buyers_of((a, b))),
            )
            for a, b in cuts
        ],
        compare=compared,
    )


async def products_report(*, session: AsyncSession, query: ProductsQuery) -> ProductsReport:
    """The store's SKUs over the window, best first by net sales or units."""
    currency = await _currency(session=session, query=query)
    found: list[repository.ProductSums] = []
    if currency is not None:
        first_month = query.start if query.start.day == 1 else first_of_next_month(query.start)
        end_month = query.end.replace(day=1)
        if first_month >= end_month:
            first_month = end_month = query.end
        found = await repository.products(
            session=session,
            store_id=query.store_id,
            currency=currency,
            start=query.start,
            end=query.end,
            first_month=first_month,
            end_month=end_month,
            by_units=query.sort is ProductSort.UNITS,
            limit=query.limit,
        )
    return ProductsReport(
        store_id=query.store_id,
        start=query.start,
        end=query.end,
        time_zone=await time_zone_of(session=session, store_id=query.store_id),
        currency=currency,
        sort=query.sort,
        products=[
            ProductRow(
                sku=p.sku,
                units=p.units,
                gross_sales=_money(p.gross_sales),
                discounts=_money(p.discounts),
                returns=_money(p.returns),
                net_sales=_money(p.gross_sales - p.discounts - p.returns),
            )
            for p in found
        ],
    )


def cohort_rows(cells: Sequence[repository.CohortCell]) -> list[CohortRow]:
    """Each cohort's months since its first, with the share of its customers buying again and
    its cumulative net sales per customer (cells in cohort, then month, order)."""
    rows: list[CohortRow] = []
    size = 0
    cumulative = ZERO
    cohort: date | None = None
    for cell in cells:
        if cell.cohort != cohort:
            cohort, cumulative = cell.cohort, ZERO
            size = cell.buyers if cell.month == cell.cohort else 0
        months = (cell.month.year - cell.cohort.year) * 12 + cell.month.month - cell.cohort.month
        cumulative += cell.net_sales
        rows.append(
            CohortRow(
                cohort=cell.cohort,
                months_since_first_order=months,
                customers=size,
                active_customers=cell.buyers,
                share_buying_again=_ratio(cell.buyers, size) if months else ZERO.quantize(RATE),
                orders=cell.orders,
                net_sales=_money(cell.net_sales),
                cumulative_net_sales_per_customer=_ratio(cumulative, size, MONEY),
            )
        )
    return rows


async def cohorts_report(*, session: AsyncSession, query: ReportQuery) -> CohortsReport:
    """The monthly acquisition cohorts first seen in the window's months."""
    currency = await _currency(session=session, query=query)
    cells = (
        await repository.cohorts(
            session=session,
            store_id=query.store_id,
            currency=currency,
            start=query.start.replace(day=1),
            end=query.end,
        )
        if currency is not None
        else []
    )
    return CohortsReport(
        store_id=query.store_id,
        start=query.start,
        end=query.end,
        time_zone=await time_zone_of(session=session, store_id=query.store_id),
        currency=currency,
        cohorts=cohort_rows(cells),
    )
