"""The stage bounds as SQL on real PostgreSQL select exactly the customers the rule puts in each
stage, at and around every boundary."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from crm_common.db import transaction
from customer_profile.customers.models import Customer
from customer_profile.privacy.audit import Shown
from customer_profile.scoring.rules import LifecycleRules, LifecycleStage
from customer_profile.search import repository, stages

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)
RULES = LifecycleRules(new_days=30, new_max_orders=2, active_days=90, at_risk_days=180)


def _instants() -> list[datetime | None]:
    found: list[datetime | None] = [None, NOW]
    for days in (RULES.new_days, RULES.active_days, RULES.at_risk_days, RULES.lapsed_days):
        edge = NOW - timedelta(days=days)
        found += [edge - TICK, edge, edge + TICK]
    return found


async def test_each_stage_in_sql_is_the_rule(sessions) -> None:
    expected: dict[LifecycleStage, set[str]] = {stage: set() for stage in LifecycleStage}
    customers = []
    instants = _instants()
    grid = itertools.product((0, 1, 2, 3), instants, instants)
    for number, (count, first, last) in enumerate(grid):
        customer_id = f"c-{number:05d}"
        customers.append(
            Customer(
                customer_id=customer_id,
                orders_count=count,
                first_order_at=first,
                last_order_at=last,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        stage = RULES.stage(orders_count=count, first_order_at=first, last_order_at=last, now=NOW)
        expected[stage].add(customer_id)
    async with transaction(sessions) as session:
        session.add_all(customers)
    for stage in LifecycleStage:
        async with sessions() as session:
            rows = await repository.search_page(
                session=session,
                identities=[],
                terms=[],
                tags=[],
                stage=stages.branches(stage, rules=RULES, now=NOW),
                after=None,
                limit=len(customers),
                shown=Shown(actor="test", action="customer.search", at=NOW),
            )
            assert {row.customer_id for row in rows} == expected[stage], stage
    assert all(expected.values())
