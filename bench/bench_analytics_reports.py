"""analytics reports: p50/p99 of the sales, products and cohorts reports on a store with about
10 million orders over three years.

Replaying 10 million orders through the consumer would take hours on the 2-core machine, so
the store's roll-up rows are generated directly, from a simulated history shaped as the
consumer would have summed it: buyers arrive every day, place 1 + geometric(0.45) orders
(about 2.2 each) with exponential gaps (mean 60 days), and each order is summed into
`sales_days` (its day, and a refund on a later day for 8% of them), `buyer_pairs` (its day
and the buyer's previous order day, by day and day, day and month, month and month; a
second order also as a second), `gap_months` (the days since the buyer's previous order),
`buyer_periods` (the buyer figures of each whole day, week and month), `cohort_months` (the
buyer's first month and the order's month) and `sku_days` / `sku_months` (two lines drawn
from 500 SKUs of Zipf popularity). The rows are exactly those
sums (what `rollups/repository.py` keeps), computed with numpy and loaded with COPY.

Then it asks each report for random windows (a third up to a month, a third up to a year, a
third up to three years, random granularity and comparison) through the service's own report
functions on a pooled session (the HTTP layer is left out), and prints p50 and p99.

Run by `make bench` (with .local/infra.env sourced), or:
    uv run python bench/bench_analytics_reports.py --orders 10000000 --requests 300
"""

import argparse
import asyncio
import os
import random
import sys
import time
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import _harness as harness
import asyncpg
import numpy as np
from analytics.main import MIGRATIONS
from analytics.reports import service
from analytics.reports.schemas import (
    Compare,
    Granularity,
    ProductsQuery,
    ReportQuery,
    SalesQuery,
)
from crm_common import db

STORE = "bench-store"
CURRENCY = "EUR"
START = date(2023, 1, 1)
DAYS = 1096
SKUS = 500
MINUS_INFINITY = -1
INFINITY = 10**6


def _simulate(orders: int, seed: int) -> dict[str, np.ndarray]:
    """Every order's day, previous day (of its buyer), second day (on first orders), first day
    and whether it is the buyer's first in its month, for buyers arriving until `orders`."""
    rng = np.random.default_rng(seed)
    buyers = int(orders / 2.2)
    first = rng.integers(0, DAYS, buyers)
    counts = rng.geometric(0.45, buyers)
    owner = np.repeat(np.arange(buyers), counts)
    gaps = np.rint(rng.exponential(60.0, owner.size)).astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    gaps[starts] = 0
    # Cumulative gaps within each buyer: the whole cumsum less the cumsum at the buyer's start.
    total = np.cumsum(gaps)
    day = first[owner] + total - np.repeat(total[starts], counts)
    keep = day < DAYS
    index_in_buyer = np.arange(owner.size) - np.repeat(starts, counts)
    previous = np.where(index_in_buyer == 0, MINUS_INFINITY, np.roll(day, 1))
    second = np.full(owner.size, INFINITY)
    has_second = (counts >= 2)[owner] & (index_in_buyer == 0)
    nxt = np.roll(day, -1)
    second[has_second] = np.where(nxt[has_second] < DAYS, nxt[has_second], INFINITY)
    months = _month_index(day)
    first_in_month = (index_in_buyer == 0) | (months != _month_index(np.roll(day, 1)))
    cohort = _month_index(first[owner])
    return {
        "day": day[keep],
        "previous": previous[keep],
        "second": second[keep],
        "month": months[keep],
        "cohort": cohort[keep],
        "first_in_month": first_in_month[keep],
    }


_MONTH_OF_DAY = np.array(
    [
        (d.year - START.year) * 12 + d.month - 1
        for d in (START + timedelta(days=i) for i in range(DAYS + 2000))
    ]
)


def _month_index(days: np.ndarray) -> np.ndarray:
    return _MONTH_OF_DAY[np.clip(days, 0, _MONTH_OF_DAY.size - 1)]


def _month_start(index: int) -> date:
    return date(START.year + index // 12, index % 12 + 1, 1)


def _day(index: int) -> date:
    if index == MINUS_INFINITY:
        return date.min
    if index >= INFINITY:
        return date.max
    return START + timedelta(days=int(index))


Rows = tuple[str, list[tuple[Any, ...]], list[str]]
"""A table, its records and their columns."""

_MONTH_START = np.array(
    [
        (date(d.year, d.month, 1) - START).days
        for d in (START + timedelta(days=i) for i in range(DAYS + 2000))
    ]
)


def _month_start_of(days: np.ndarray) -> np.ndarray:
    """The day index of each day's month start (`MINUS_INFINITY` stays)."""
    return np.where(days == MINUS_INFINITY, MINUS_INFINITY, _MONTH_START[np.maximum(days, 0)])


def _grouped(keys: np.ndarray, *weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """The distinct rows of `keys` (one row per record) and each weight summed over them."""
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    return unique, *(np.bincount(inverse, weights=w).astype(np.int64) for w in weights)


def _lower_medians(groups: np.ndarray, values: np.ndarray) -> dict[int, int]:
    """The lower median of `values` within each group."""
    order = np.lexsort((values, groups))
    groups, values = groups[order], values[order]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    counts = np.diff(np.r_[starts, groups.size])
    picked = starts + (counts - 1) // 2
    return {int(g): int(v) for g, v in zip(groups[picked], values[picked], strict=True)}


def _buyer_rows(history: dict[str, np.ndarray]) -> list[Rows]:
    """`buyer_pairs` (each order's previous day and day; each second order also as a second),
    `gap_months` and `buyer_periods` of whole days, weeks and months, as the consumer keeps
    them."""
    day, previous, second = history["day"], history["previous"], history["second"]
    first = previous == MINUS_INFINITY
    has_second = first & (second < INFINITY)
    x = np.concatenate((previous, day[has_second]))
    y = np.concatenate((day, second[has_second]))
    orders = np.concatenate((np.ones(day.size), np.zeros(int(has_second.sum()))))
    seconds = 1 - orders
    pairs: list[tuple[Any, ...]] = []
    for grain, gx, gy in (
        ("dd", x, y),
        ("dm", x, _month_start_of(y)),
        ("mm", _month_start_of(x), _month_start_of(y)),
    ):
        keys, counted, second_counts = _grouped(np.stack((gx, gy), axis=1), orders, seconds)
        pairs += [
            (STORE, grain, _day(int(kx)), _day(int(ky)), int(o), int(c))
            for (kx, ky), o, c in zip(keys, counted, second_counts, strict=True)
        ]
    repeat = ~first
    gap = day[repeat] - previous[repeat]
    keys, counted = _grouped(
        np.stack((_month_start_of(day[repeat]), gap), axis=1), np.ones(gap.size)
    )
    gaps = [
        (STORE, _day(int(month)), int(g), int(c))
        for (month, g), c in zip(keys, counted, strict=True)
    ]
    periods: list[tuple[Any, ...]] = []
    weekday = np.array([(START + timedelta(days=i)).weekday() for i in range(DAYS)])
    month_end = _MONTH_START[np.minimum(_MONTH_START[day] + 31, _MONTH_START.size - 1)]
    for granularity, start, end in (
        ("day", day, day + 1),
        ("week", day - weekday[day], day - weekday[day] + 7),
        ("month", _MONTH_START[day], month_end),
    ):
        before = np.where(first, -(10**9), previous) < start
        one_time = first & (second >= end)
        keys, buyers, new, once, counted = _grouped(
            start[:, None], before, first, one_time, np.ones(day.size)
        )
        medians = _lower_medians(start[repeat], gap)
        periods += [
            (STORE, granularity, _day(int(p)), int(b), int(n), int(o), int(c), medians.get(int(p)))
            for (p,), b, n, o, c in zip(keys, buyers, new, once, counted, strict=True)
        ]
    return [
        ("buyer_pairs", pairs, ["store_id", "grain", "x", "y", "orders", "seconds"]),
        ("gap_months", gaps, ["store_id", "month", "gap", "orders"]),
        (
            "buyer_periods",
            periods,
            [
                "store_id",
                "granularity",
                "period_start",
                "buyers",
                "new_buyers",
                "one_time_buyers",
                "orders",
                "median_gap_days",
            ],
        ),
    ]


async def _load(url: str, orders: int, seed: int) -> int:
    history = _simulate(orders, seed)
    rng = np.random.default_rng(seed + 1)
    n = history["day"].size
    gross = rng.integers(2_000, 20_000, n)
    discount = np.where(rng.random(n) < 0.2, gross // 10, 0)
    refunded = rng.random(n) < 0.08
    refund_day = history["day"] + np.rint(rng.exponential(20.0, n)).astype(np.int64)
    refunds = refunded & (refund_day < DAYS)
    by_day = np.bincount(history["day"], minlength=DAYS)
    connection = await asyncpg.connect(url)
    try:
        sums = {
            "refunded": np.bincount(history["day"], weights=refunded, minlength=DAYS),
            "gross": np.bincount(history["day"], weights=gross, minlength=DAYS),
            "discount": np.bincount(history["day"], weights=discount, minlength=DAYS),
            "returns": np.bincount(
                refund_day[refunds], weights=(gross - discount)[refunds], minlength=DAYS
            ),
        }
        sales = [
            (
                STORE,
                CURRENCY,
                START + timedelta(days=d),
                int(by_day[d]),
                int(sums["refunded"][d]),
                *(Decimal(int(sums[name][d])) / 100 for name in ("gross", "discount", "returns")),
                Decimal(5 * int(by_day[d])),
                Decimal(0),
            )
            for d in range(DAYS)
        ]
        await connection.copy_records_to_table(
            "sales_days",
            records=sales,
            columns=[
                "store_id",
                "currency",
                "day",
                "orders",
                "refunded_orders",
                "gross_sales",
                "discounts",
                "returns",
                "shipping",
                "taxes",
            ],
        )
        for table, records, columns in _buyer_rows(history):
            await connection.copy_records_to_table(table, records=records, columns=columns)
        cells = history["cohort"] * 100 + history["month"]
        net = gross - discount
        keys, inverse = np.unique(cells, return_inverse=True)
        await connection.copy_records_to_table(
            "cohort_months",
            records=[
                (
                    STORE,
                    CURRENCY,
                    _month_start(int(k // 100)),
                    _month_start(int(k % 100)),
                    int(b),
                    int(o),
                    Decimal(int(v)) / 100,
                )
                for k, b, o, v in zip(
                    keys,
                    np.bincount(inverse, weights=history["first_in_month"]),
                    np.bincount(inverse),
                    np.bincount(inverse, weights=net),
                    strict=True,
                )
            ],
            columns=["store_id", "currency", "cohort", "month", "buyers", "orders", "net_sales"],
        )
        popularity = 1 / np.arange(1, SKUS + 1)
        popularity /= popularity.sum()
        prices = rng.integers(500, 8_000, SKUS)
        units = np.stack([rng.multinomial(2 * int(by_day[d]), popularity) for d in range(DAYS)])
        sku_days = [
            (
                STORE,
                CURRENCY,
                START + timedelta(days=d),
                f"SKU-{s:04d}",
                int(units[d, s]),
                Decimal(int(units[d, s] * prices[s])) / 100,
                Decimal(0),
                Decimal(0),
            )
            for d in range(DAYS)
            for s in np.nonzero(units[d])[0]
        ]
        columns = [
            "store_id",
            "currency",
            "day",
            "sku",
            "units",
            "gross_sales",
            "discounts",
            "returns",
        ]
        await connection.copy_records_to_table("sku_days", records=sku_days, columns=columns)
        await connection.execute(
            "INSERT INTO sku_months SELECT store_id, currency, date_trunc('month', day), sku, "
            "sum(units), sum(gross_sales), sum(discounts), sum(returns) FROM sku_days "
            "GROUP BY 1, 2, 3, 4"
        )
        await connection.execute("VACUUM ANALYZE")
        stored = await connection.fetchval(
            "SELECT sum(orders) FROM sales_days WHERE store_id = $1", STORE
        )
        for table in (
            "buyer_pairs",
            "gap_months",
            "buyer_periods",
            "sku_days",
            "sku_months",
            "cohort_months",
        ):
            rows = await connection.fetchval(f"SELECT count(*) FROM {table}")
            sys.stdout.write(f"  {table}: {rows:,} rows\n")
        return int(stored)
    finally:
        await connection.close()


def _window(rng: random.Random) -> tuple[date, date]:
    longest = rng.choice((31, 365, DAYS))
    length = rng.randint(1, longest)
    start = START + timedelta(days=rng.randint(0, DAYS - length))
    return start, start + timedelta(days=length)


async def _measure(url: str, requests: int, seed: int) -> dict[str, list[float]]:
    engine = db.create_engine(url.replace("postgresql://", "postgresql+asyncpg://"), pool_size=2)
    sessions = db.session_factory(engine)
    rng = random.Random(seed)
    timings: dict[str, list[float]] = {}
    try:
        for number in range(requests):
            start, end = _window(rng)
            if number % 10 == 0:
                start, end = START, START + timedelta(days=DAYS)
            window = {"store_id": STORE, "from": start, "to": end}
            queries = {
                "sales": SalesQuery.model_validate(
                    {
                        **window,
                        "granularity": rng.choice(list(Granularity)),
                        "compare": rng.choice([None, *Compare]),
                    }
                ),
                "products": ProductsQuery.model_validate(window),
                "cohorts": ReportQuery.model_validate(window),
            }
            for name, query in queries.items():
                began = time.perf_counter()
                async with sessions() as session:
                    if name == "sales":
                        assert isinstance(query, SalesQuery)
                        await service.sales_report(session=session, query=query)
                    elif name == "products":
                        assert isinstance(query, ProductsQuery)
                        await service.products_report(session=session, query=query)
                    else:
                        await service.cohorts_report(session=session, query=query)
                elapsed = (time.perf_counter() - began) * 1000
                timings.setdefault(name, []).append(elapsed)
                if end - start == timedelta(days=DAYS):
                    timings.setdefault(f"{name}, 3 years", []).append(elapsed)
    finally:
        await engine.dispose()
    return timings


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=300, help="windows asked of each report")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    server = os.environ.get("POSTGRES_URL", "postgresql://crm:crm@127.0.0.1:5432")
    async with harness.fresh_database(server, "bench_reports") as url:
        engine = db.create_engine(url.replace("postgresql://", "postgresql+asyncpg://"))
        await db.migrate(engine, MIGRATIONS)
        await engine.dispose()
        began = time.perf_counter()
        stored = await _load(url, args.orders, args.seed)
        out = sys.stdout.write
        out(f"store: {stored:,} orders over {DAYS} days, loaded in ")
        out(f"{time.perf_counter() - began:.0f} s\n")
        timings = await _measure(url, args.requests, args.seed)
    out("report, window        requests   p50 ms   p99 ms   max ms\n")
    for name, values in timings.items():
        out(
            f"{name:<22}{len(values):>8}{harness.percentile(values, 0.5):>9.1f}"
            f"{harness.percentile(values, 0.99):>9.1f}{max(values):>9.1f}\n"
        )


if __name__ == "__main__":
    asyncio.run(main())
