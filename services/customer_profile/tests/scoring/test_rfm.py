"""RFM on a real PostgreSQL database: the exact batch over a few stores, the incremental refresh
against its boundaries, the command line, and lifecycle stages searched in SQL."""

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from crm_common.db import transaction
from customer_profile.customers.models import Customer, CustomerOrder
from customer_profile.scoring import repository, service
from customer_profile.scoring.models import CustomerRfm, RfmBoundaries, ScoringRun
from customer_profile.scoring.rules import LifecycleRules, LifecycleStage
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]
Order = tuple[str, str, str, datetime] | tuple[str, str, str, datetime, bool]
"""(store, currency, net_paid, placed_at[, cancelled])"""


async def seed(sessions: Sessions, customers: dict[str, list[Order]]) -> None:
    async with transaction(sessions) as session:
        for customer_id in customers:
            session.add(Customer(customer_id=customer_id, created_at=T0, updated_at=T0))
        await session.flush()
        for customer_id, orders in customers.items():
            for number, (store, currency, paid, placed_at, *cancelled) in enumerate(orders):
                session.add(
                    CustomerOrder(
                        order_id=f"{customer_id}-{store}-{number}",
                        customer_id=customer_id,
                        store_id=store,
                        external_id=str(number),
                        placed_at=placed_at,
                        currency=currency,
                        net_paid=Decimal(paid),
                        cancelled=bool(cancelled and cancelled[0]),
                        order_version=1,
                        attributed_at=T0,
                    )
                )


async def scores(sessions: Sessions) -> dict[tuple[str, str], tuple[int | None, ...]]:
    async with sessions() as session:
        rows = (await session.execute(select(CustomerRfm))).scalars()
        return {(r.customer_id, r.store_id): (r.r_score, r.f_score, r.m_score) for r in rows}


async def row(sessions: Sessions, customer_id: str, store_id: str) -> CustomerRfm:
    async with sessions() as session:
        found = await session.get(CustomerRfm, (customer_id, store_id))
    assert found is not None
    return found


# Store s1 (USD): a1..a10. a<i> has i orders (frequency rank i), its last order i days before T0
# (recency rank 11 - i) and spends MONETARY[i] (a cancelled order of a1 does not count).
MONETARY = {1: 50, 2: 40, 3: 30, 4: 20, 5: 10, 6: 100, 7: 90, 8: 80, 9: 70, 10: 60}


def store_one() -> dict[str, list[Order]]:
    customers: dict[str, list[Order]] = {}
    for i, spent in MONETARY.items():
        last = T0 - timedelta(days=i)
        orders: list[Order] = [("s1", "USD", "0", last - timedelta(days=30 + n)) for n in range(i)]
        orders[0] = ("s1", "USD", str(spent), last)
        customers[f"a{i}"] = orders
    customers["a1"].append(("s1", "USD", "1000", T0, True))
    return customers


def stores_two_and_three() -> dict[str, list[Order]]:
    # s2 (EUR): b1..b5 buy once at the same time; a1 buys there later and more.
    customers: dict[str, list[Order]] = {
        f"b{i}": [("s2", "EUR", str(10 * i), T0 - timedelta(days=5))] for i in range(1, 6)
    }
    # s3: one customer, first in GBP: monetary counts the GBP orders only.
    customers["c1"] = [
        ("s3", "GBP", "10", T0 - timedelta(days=9)),
        ("s3", "USD", "500", T0 - timedelta(days=2)),
    ]
    return customers


async def test_the_batch_scores_quintiles_per_store(sessions) -> None:
    customers = store_one() | stores_two_and_three()
    customers["a1"].append(("s2", "EUR", "60", T0 - timedelta(days=1)))
    await seed(sessions, customers)
    async with transaction(sessions) as session:
        run = await service.recompute(session=session, now=T0)
    assert (run.stores, run.customers) == (3, 17)

    found = await scores(sessions)
    # Ten customers: two a fifth. Ranks 1-2 score 1, 3-4 score 2, ..., 9-10 score 5.
    assert {i: found[(f"a{i}", "s1")] for i in range(1, 11)} == {
        1: (5, 1, 3),
        2: (5, 1, 2),
        3: (4, 2, 2),
        4: (4, 2, 1),
        5: (3, 3, 1),
        6: (3, 3, 5),
        7: (2, 4, 5),
        8: (2, 4, 4),
        9: (1, 5, 4),
        10: (1, 5, 3),
    }
    # Six customers, ranked 1 + 5 * (rank - 1) // 6; equal values share the lowest score.
    assert {c: found[(c, "s2")] for c in ("b1", "b2", "b3", "b4", "b5", "a1")} == {
        "b1": (1, 1, 1),
        "b2": (1, 1, 1),
        "b3": (1, 1, 2),
        "b4": (1, 1, 3),
        "b5": (1, 1, 4),
        "a1": (5, 1, 5),
    }
    assert found[("c1", "s3")] == (1, 1, 1)
    a1 = await row(sessions, "a1", "s1")
    assert (a1.orders_count, a1.monetary, a1.last_order_at) == (1, Decimal(50), T0 - timedelta(1))
    c1 = await row(sessions, "c1", "s3")
    assert (c1.currency, c1.orders_count, c1.monetary) == ("GBP", 2, Decimal(10))
    assert c1.scored_by == "batch"

    async with sessions() as session:
        bounds = await session.get(RfmBoundaries, ("s1", "USD"))
    assert bounds is not None
    assert bounds.monetary == [Decimal(30), Decimal(50), Decimal(70), Decimal(90)]
    assert bounds.frequency == [3, 5, 7, 9]
    assert bounds.customers == 10


async def test_orders_between_batches_are_scored_against_the_boundaries(
    sessions, fresh_database
) -> None:
    await seed(sessions, store_one())
    async with transaction(sessions) as session:
        await service.recompute(session=session, now=T0)
    await seed(
        sessions,
        {
            "a11": [("s1", "USD", "75", T0 + timedelta(days=1))],
            "z1": [("s9", "USD", "75", T0)],
        },
    )
    async with transaction(sessions) as session:
        await service.refresh(session=session, customer_ids=["a11", "z1", "a1"], now=T0)

    a11 = await row(sessions, "a11", "s1")
    # Newest order: R 5; one order, below the 3 orders F 2 starts at: F 1; 75 reaches 70: M 4.
    assert (a11.r_score, a11.f_score, a11.m_score, a11.scored_by) == (5, 1, 4, "incremental")
    assert (await row(sessions, "a1", "s1")).scored_by == "batch"  # unchanged, not rewritten
    z1 = await row(sessions, "z1", "s9")
    assert (z1.r_score, z1.f_score, z1.m_score) == (None, None, None)  # no batch yet for s9

    # Cancelling a11's only order removes its row.
    async with transaction(sessions) as session:
        order = await session.get(CustomerOrder, "a11-s1-0")
        assert order is not None
        order.cancelled = True
        await service.refresh(session=session, customer_ids=["a11"], now=T0)
    assert ("a11", "s1") not in await scores(sessions)

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "customer_profile.scoring",
        "recompute",
        "--database-url",
        fresh_database,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert '"customers":11' in out.decode()
    async with sessions() as session:
        by = set((await session.execute(select(CustomerRfm.scored_by))).scalars())
        runs = await session.scalar(select(func.count()).select_from(ScoringRun))
    assert (by, runs) == ({"batch"}, 2)
    assert (await row(sessions, "z1", "s9")).r_score == 1


async def test_stages_can_be_searched_in_sql_by_the_same_rules(sessions) -> None:
    rules = LifecycleRules()
    tick = timedelta(seconds=1)
    day = timedelta(days=1)
    cases = {
        "prospect": (0, None, None),
        "new-edge": (1, 30 * day, 30 * day),
        "active-one": (1, 30 * day + tick, 30 * day + tick),
        "active-two": (2, 10 * day, 2 * day),
        "active-edge": (4, 400 * day, 90 * day),
        "at-risk": (4, 400 * day, 90 * day + tick),
        "at-risk-edge": (1, 180 * day, 180 * day),
        "lapsed": (1, 180 * day + tick, 180 * day + tick),
        "lapsed-edge": (3, 900 * day, 365 * day),
        "churned": (3, 900 * day, 365 * day + tick),
    }
    async with transaction(sessions) as session:
        for customer_id, (count, first_ago, last_ago) in cases.items():
            session.add(
                Customer(
                    customer_id=customer_id,
                    created_at=T0,
                    updated_at=T0,
                    orders_count=count,
                    first_order_at=None if first_ago is None else T0 - first_ago,
                    last_order_at=None if last_ago is None else T0 - last_ago,
                )
            )
    expected: dict[LifecycleStage, set[str]] = {stage: set() for stage in LifecycleStage}
    for customer_id, (count, first_ago, last_ago) in cases.items():
        stage = rules.stage(
            orders_count=count,
            first_order_at=None if first_ago is None else T0 - first_ago,
            last_order_at=None if last_ago is None else T0 - last_ago,
            now=T0,
        )
        expected[stage].add(customer_id)
    assert all(expected.values())
    async with sessions() as session:
        for stage, members in expected.items():
            condition = repository.stage_condition(stage, rules=rules, now=T0)
            found = set(
                (await session.execute(select(Customer.customer_id).where(condition))).scalars()
            )
            assert found == members, stage
