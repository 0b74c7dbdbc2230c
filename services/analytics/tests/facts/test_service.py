"""The fact rules on a real PostgreSQL database: arrival order, merges, redelivery, concurrency."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from crm_common.envelope import CloudEvent
from crm_events.customer import CUSTOMER_ERASED, CustomerErased
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]
Apply = Callable[[CloudEvent[Any]], Awaitable[None]]
PLACED = datetime(2023, 3, 1, 12, tzinfo=UTC)


async def fact(sessions: Sessions, order_id: str) -> dict[str, Any] | None:
    async with sessions() as session:
        row = (
            (
                await session.execute(
                    text("SELECT * FROM order_facts WHERE order_id = :id"), {"id": order_id}
                )
            )
            .mappings()
            .first()
        )
    return dict(row) if row is not None else None


async def customer_of(sessions: Sessions, order_id: str) -> str | None:
    stored = await fact(sessions, order_id)
    assert stored is not None, f"no fact for {order_id}"
    customer: str | None = stored["customer_id"]
    return customer


async def test_the_newest_version_wins_whatever_the_arrival_order(
    sessions: Sessions, make: Any, apply: Apply
) -> None:
    order_id = make.new_id("order")
    versions = {
        v: make.order(store_id="s", placed_at=PLACED, order_id=order_id, version=v, net_paid=paid)
        for v, paid in ((1, "0"), (2, "100.00"), (3, "60.00"))
    }

    for v in (3, 1, 2, 3):
        await apply(make.order_event(versions[v], "crm.order.paid"))

    stored = await fact(sessions, order_id)
    assert stored is not None
    assert (stored["version"], stored["net_paid"]) == (3, Decimal("60.00"))


async def test_an_attribution_before_its_order_gives_the_order_its_customer(
    sessions: Sessions, make: Any, apply: Apply
) -> None:
    order = make.order(store_id="s", placed_at=PLACED, customer_ref="shop-c")

    await apply(make.attribution_event(order_id=order.order_id, customer_id="c1", store_id="s"))
    await apply(make.order_event(order))

    assert await customer_of(sessions, order.order_id) == "c1"


async def test_an_attribution_after_its_order_sets_the_customer_and_newer_versions_keep_it(
    sessions: Sessions, make: Any, apply: Apply
) -> None:
    order = make.order(store_id="s", placed_at=PLACED, customer_ref="shop-c")
    await apply(make.order_event(order))
    assert await customer_of(sessions, order.order_id) is None

    await apply(make.attribution_event(order_id=order.order_id, customer_id="c1", store_id="s"))
    await apply(make.order_event(order.model_copy(update={"version": 2})))

    assert await customer_of(sessions, order.order_id) == "c1"


async def test_a_merge_repoints_facts_attributions_and_later_mentions_of_the_merged_id(
    sessions: Sessions, make: Any, apply: Apply
) -> None:
    merged, survivor = make.new_id("cust"), make.new_id("cust")
    seen, pending, late = (make.order(store_id="s", placed_at=PLACED) for _ in range(3))
    await apply(make.order_event(seen))
    for order in (seen, pending):
        await apply(
            make.attribution_event(order_id=order.order_id, customer_id=merged, store_id="s"),
        )

    await apply(make.merge_event(merged_id=merged, survivor_id=survivor))
    await apply(make.order_event(pending))
    await apply(make.order_event(late))
    await apply(make.attribution_event(order_id=late.order_id, customer_id=merged, store_id="s"))

    for order in (seen, pending, late):
        assert await customer_of(sessions, order.order_id) == survivor


async def test_merges_chain_whatever_their_arrival_order(
    sessions: Sessions, make: Any, apply: Apply
) -> None:
    a, b, c = (make.new_id("cust") for _ in range(3))
    first, later = (make.order(store_id="s", placed_at=PLACED) for _ in range(2))
    await apply(make.order_event(first))
    await apply(make.attribution_event(order_id=first.order_id, customer_id=a, store_id="s"))

    # b went into c before a went into b, but c's merge arrives first.
    await apply(make.merge_event(merged_id=b, survivor_id=c))
    await apply(make.merge_event(merged_id=a, survivor_id=b))
    await apply(make.order_event(later))
    await apply(make.attribution_event(order_id=later.order_id, customer_id=a, store_id="s"))

    assert await customer_of(sessions, first.order_id) == c
    assert await customer_of(sessions, later.order_id) == c


async def test_a_redelivered_or_stale_attribution_does_not_undo_a_later_one(
    sessions: Sessions, make: Any, apply: Apply
) -> None:
    order = make.order(store_id="s", placed_at=PLACED)
    now = datetime.now(UTC)
    early = make.attribution_event(order_id=order.order_id, customer_id="c1", store_id="s")
    late = make.attribution_event(
        order_id=order.order_id, customer_id="c2", store_id="s", time=now + timedelta(seconds=5)
    )
    stale = make.attribution_event(
        order_id=order.order_id, customer_id="c3", store_id="s", time=now - timedelta(hours=1)
    )
    await apply(make.order_event(order))

    for event in (early, late, early, stale, late):
        await apply(event)

    assert await customer_of(sessions, order.order_id) == "c2"


async def test_an_erasure_leaves_the_facts_whole(
    sessions: Sessions, make: Any, apply: Apply
) -> None:
    order = make.order(store_id="s", placed_at=PLACED, net_paid="25.00")
    await apply(make.order_event(order))
    await apply(make.attribution_event(order_id=order.order_id, customer_id="c1", store_id="s"))
    before = await fact(sessions, order.order_id)

    erased = CustomerErased(customer_id="c1", erased_at=datetime.now(UTC))
    await apply(CUSTOMER_ERASED.event(erased, source="test"))

    assert await fact(sessions, order.order_id) == before


async def test_concurrent_orders_attributions_and_merges_never_lose_a_customer(
    sessions: Sessions, make: Any, apply: Apply
) -> None:
    survivor = make.new_id("cust")
    cases = []
    for _ in range(40):
        order = make.order(store_id="s", placed_at=PLACED)
        merged = make.new_id("cust")
        cases.append(
            (
                order.order_id,
                [
                    make.order_event(order),
                    make.attribution_event(
                        order_id=order.order_id, customer_id=merged, store_id="s"
                    ),
                    make.merge_event(merged_id=merged, survivor_id=survivor),
                ],
            )
        )
    events = [event for _, trio in cases for event in trio]
    random.Random(7).shuffle(events)

    await asyncio.gather(*(apply(event) for event in events))

    customers = {order_id: await customer_of(sessions, order_id) for order_id, _ in cases}
    assert customers == {order_id: survivor for order_id, _ in cases}


async def _state(sessions: Sessions, order_ids: list[str], customer_ids: list[str]) -> Any:
    """Every row these orders and customers have in the three tables."""
    async with sessions() as session:
        rows = {}
        for table, column, keys in (
            ("order_facts", "order_id", order_ids),
            ("order_attributions", "order_id", order_ids),
            ("customer_merges", "merged_id", customer_ids),
        ):
            result = await session.execute(
                text(f"SELECT * FROM {table} WHERE {column} = ANY(:keys) ORDER BY {column}"),
                {"keys": keys},
            )
            rows[table] = [dict(row) for row in result.mappings()]
    return rows


async def test_an_unmerge_gives_back_the_state_before_the_merge_and_applies_once(
    sessions: Sessions, make: Any, apply: Apply
) -> None:
    survivor, merged, earlier = (make.new_id("cust") for _ in range(3))
    # `earlier` went into `merged` before `merged` went into `survivor`; undoing the second
    # merge leaves the first in effect. `pending` is attributed but has not arrived yet.
    own, theirs, earliers, pending = (make.order(store_id="s", placed_at=PLACED) for _ in range(4))
    for order in (own, theirs, earliers):
        await apply(make.order_event(order))
    for order, customer in ((own, survivor), (theirs, merged), (earliers, earlier)):
        await apply(
            make.attribution_event(order_id=order.order_id, customer_id=customer, store_id="s")
        )
    await apply(make.attribution_event(order_id=pending.order_id, customer_id=merged, store_id="s"))
    await apply(make.merge_event(merged_id=earlier, survivor_id=merged))
    order_ids = [order.order_id for order in (own, theirs, earliers, pending)]
    customer_ids = [survivor, merged, earlier]
    before = await _state(sessions, order_ids, customer_ids)

    merge = make.merge_event(merged_id=merged, survivor_id=survivor)
    await apply(merge)
    for order in (own, theirs, earliers):
        assert await customer_of(sessions, order.order_id) == survivor

    # customer-profile lists every order the merged customer has again.
    back = [theirs.order_id, earliers.order_id, pending.order_id]
    unmerge = make.unmerge_event(merge=merge, order_ids=back)
    await apply(unmerge)
    assert await _state(sessions, order_ids, customer_ids) == before

    for event in (merge, unmerge):
        await apply(event)
    assert await _state(sessions, order_ids, customer_ids) == before

    await apply(make.order_event(pending))
    late = make.order(store_id="s", placed_at=PLACED)
    await apply(make.order_event(late))
    await apply(make.attribution_event(order_id=late.order_id, customer_id=earlier, store_id="s"))
    assert await customer_of(sessions, pending.order_id) == merged
    assert await customer_of(sessions, late.order_id) == merged


async def test_an_order_attributed_anew_after_the_undo_keeps_that_attribution(
    sessions: Sessions, make: Any, apply: Apply
) -> None:
    survivor, merged, other = (make.new_id("cust") for _ in range(3))
    order = make.order(store_id="s", placed_at=PLACED)
    now = datetime.now(UTC)
    await apply(make.order_event(order))
    await apply(
        make.attribution_event(
            order_id=order.order_id, customer_id=merged, store_id="s", time=now - timedelta(1)
        )
    )
    merge = make.merge_event(merged_id=merged, survivor_id=survivor)
    await apply(merge)
    # The re-attribution travels on `other`'s partition and overtakes the undo.
    await apply(
        make.attribution_event(
            order_id=order.order_id, customer_id=other, store_id="s", time=now + timedelta(1)
        )
    )

    await apply(make.unmerge_event(merge=merge, order_ids=[order.order_id], time=now))

    assert await customer_of(sessions, order.order_id) == other


async def test_orders_arriving_while_a_merge_is_undone_all_go_back_to_the_merged_customer(
    sessions: Sessions, make: Any, apply: Apply
) -> None:
    survivor, merged = make.new_id("cust"), make.new_id("cust")
    orders = [make.order(store_id="s", placed_at=PLACED) for _ in range(40)]
    for order in orders:
        await apply(
            make.attribution_event(order_id=order.order_id, customer_id=merged, store_id="s")
        )
    merge = make.merge_event(merged_id=merged, survivor_id=survivor)
    await apply(merge)
    events = [make.order_event(order) for order in orders]
    events.insert(20, make.unmerge_event(merge=merge, order_ids=[o.order_id for o in orders]))

    await asyncio.gather(*(apply(event) for event in events))

    customers = {order.order_id: await customer_of(sessions, order.order_id) for order in orders}
    assert customers == {order.order_id: merged for order in orders}
