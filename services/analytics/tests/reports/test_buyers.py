"""The sales report's buyer figures against their definitions counted straight from the facts,
for random windows, granularities and comparisons over random histories: across month ends,
after attributions and a merge moved orders between buyers, and after a time zone change."""

import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from analytics.reports.schemas import Compare, Granularity, SalesQuery
from analytics.reports.service import sales_report
from analytics.stores.service import set_time_zone
from crm_common import db
from crm_common.envelope import CloudEvent
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]
ApplyBatch = Callable[[list[CloudEvent[Any]]], Awaitable[Any]]
FIRST = datetime(2023, 1, 20, tzinfo=UTC)


def expected(histories: dict[str, list[date]], start: date, end: date) -> dict[str, Any]:
    """The README's definitions, buyer by buyer (each history sorted)."""
    buyers = new = repeat = 0
    orders = 0
    gaps: list[int] = []
    for days in histories.values():
        inside = [n for n, day in enumerate(days) if start <= day < end]
        if not inside:
            continue
        buyers += 1
        orders += len(inside)
        gaps += [(days[n] - days[n - 1]).days for n in inside if n > 0]
        if inside[0] == 0:
            new += 1
            if len(days) > 1 and days[1] < end:
                repeat += 1
        else:
            repeat += 1
    gaps.sort()
    return {
        "orders_of_buyers": orders,
        "buyers": buyers,
        "new_buyers": new,
        "returning_buyers": buyers - new,
        "repeat_buyers": repeat,
        "median_days_between_orders": gaps[(len(gaps) - 1) // 2] if gaps else None,
    }


def reported(figures: Any) -> dict[str, Any]:
    """The same figures from a report (repeat buyers from the rounded rate, checked as such)."""
    return {
        "buyers": figures.buyers,
        "new_buyers": figures.new_buyers,
        "returning_buyers": figures.returning_buyers,
        "median_days_between_orders": figures.median_days_between_orders,
    }


async def histories_of(sessions: Sessions, store_id: str, zone: str) -> dict[str, list[date]]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT coalesce(customer_id, 'ref:' || customer_ref), placed_at FROM order_facts "
                "WHERE store_id = :s AND counted "
                "AND (customer_id IS NOT NULL OR customer_ref IS NOT NULL) "
                "ORDER BY placed_at, order_id"
            ),
            {"s": store_id},
        )
        found: dict[str, list[date]] = defaultdict(list)
        for buyer, placed_at in rows.all():
            found[buyer].append(placed_at.astimezone(ZoneInfo(zone)).date())
    return found


def windows(rng: random.Random, count: int) -> list[tuple[date, date]]:
    found = [(date(2023, 1, 1), date(2023, 8, 1)), (date(2023, 2, 1), date(2023, 3, 1))]
    while len(found) < count:
        start = date(2022, 12, 15) + timedelta(days=rng.randrange(0, 220))
        found.append((start, start + timedelta(days=rng.choice((1, 3, 9, 30, 45, 75, 200)))))
    return found


async def check_windows(
    sessions: Sessions, store_id: str, zone: str, rng: random.Random, count: int
) -> None:
    histories = await histories_of(sessions, store_id, zone)
    for start, end in windows(rng, count):
        query = SalesQuery.model_validate(
            {
                "store_id": store_id,
                "from": start,
                "to": end,
                "currency": "USD",
                "granularity": rng.choice(list(Granularity)),
                "compare": rng.choice([None, *Compare]),
            }
        )
        async with sessions() as session:
            report = await sales_report(session=session, query=query)
        cases = [(start, end, report.totals)]
        cases += [(p.period_start, p.period_end, p) for p in report.series]
        if report.compare is not None:
            cases.append((report.compare.start, report.compare.end, report.compare.totals))
        for a, b, figures in cases:
            wanted = expected(histories, a, b)
            assert reported(figures) == {k: wanted[k] for k in reported(figures)}, (a, b)
            rate = wanted["repeat_buyers"] / wanted["buyers"] if wanted["buyers"] else 0
            assert abs(float(figures.repeat_purchase_rate) - rate) <= 0.00005, (a, b)
            frequency = wanted["orders_of_buyers"] / wanted["buyers"] if wanted["buyers"] else 0
            assert abs(float(figures.purchase_frequency) - frequency) <= 0.00005, (a, b)


async def test_buyer_figures_of_any_window_follow_their_definitions(
    sessions: Sessions, make: Any, apply_batch: ApplyBatch
) -> None:
    rng = random.Random(20231)
    store_id = make.new_id("store")
    people = [f"p{n}" for n in range(14)]
    orders = []
    for _ in range(90):
        # Runs of orders close together, and a few far apart; some on the same day.
        placed = FIRST + timedelta(days=rng.choice((0, 1, 2, 5, 12, 30, 40, 95, 150)))
        placed += timedelta(hours=rng.randrange(0, 24 * 40))
        orders.append(
            make.order(
                store_id=store_id, placed_at=placed, customer_ref=rng.choice([*people, None])
            )
        )
    rng.shuffle(orders)
    for start in range(0, len(orders), 25):
        await apply_batch([make.order_event(o) for o in orders[start : start + 25]])
    await check_windows(sessions, store_id, "UTC", rng, 12)

    # Attributions join some shop ids into one customer, then that customer is merged away.
    attributions = [
        make.attribution_event(
            order_id=o.order_id, customer_id=rng.choice(["c-ann", "c-bob"]), store_id=store_id
        )
        for o in orders[:40]
    ]
    await apply_batch(attributions)
    await apply_batch([make.merge_event(merged_id="c-bob", survivor_id="c-ann")])
    await check_windows(sessions, store_id, "UTC", rng, 12)

    async with db.transaction(sessions) as session:
        await set_time_zone(session=session, store_id=store_id, time_zone="Pacific/Auckland")
    await check_windows(sessions, store_id, "Pacific/Auckland", rng, 12)
