"""Batches on a real PostgreSQL database: several events of one order, rejections by position,
redeliveries within a batch, the same result as one event at a time, and concurrent batches."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from analytics.facts import service
from analytics.facts.consumers import customer_events_handler, order_events_handler
from crm_common.envelope import CloudEvent, parse_envelope, to_json_bytes
from crm_events.customer import (
    CUSTOMER_ERASED,
    CUSTOMER_MERGED,
    CUSTOMER_UNMERGED,
    CustomerErased,
    CustomerMerged,
    CustomerUnmerged,
)
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]
Apply = Callable[[CloudEvent[Any]], Awaitable[None]]
ApplyBatch = Callable[[list[CloudEvent[Any]]], Awaitable[service.Outcome]]
PLACED = datetime(2023, 3, 1, 12, tzinfo=UTC)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def rows(sessions: Sessions, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with sessions() as session:
        result = await session.execute(text(sql), params)
        return [dict(row) for row in result.mappings()]


async def customers_of(sessions: Sessions, order_ids: list[str]) -> dict[str, str | None]:
    found = await rows(
        sessions,
        "SELECT order_id, customer_id FROM order_facts WHERE order_id = ANY(:ids)",
        ids=order_ids,
    )
    return {row["order_id"]: row["customer_id"] for row in found}


def broken(event: CloudEvent[Any], **data: Any) -> CloudEvent[Any]:
    """`event` with its data changed so that it breaks the contract."""
    return CloudEvent[dict[str, Any]](
        id=event.id,
        source=event.source,
        type=event.type,
        subject=event.subject,
        time=event.time,
        data={**event.data.model_dump(mode="json"), **data},
    )


async def test_versions_of_one_order_in_a_batch_end_as_the_newest_whatever_their_order(
    sessions: Sessions, make: Any, apply: Apply, apply_batch: ApplyBatch
) -> None:
    order_id, stale_id = make.new_id("order"), make.new_id("order")

    def version(order: str, v: int, paid: str) -> CloudEvent[Any]:
        snapshot = make.order(
            store_id="s", placed_at=PLACED, order_id=order, version=v, net_paid=paid
        )
        return make.order_event(snapshot, "crm.order.paid")

    await apply(version(stale_id, 4, "40.00"))

    outcome = await apply_batch(
        [
            version(order_id, 2, "20.00"),
            version(order_id, 3, "30.00"),
            version(stale_id, 2, "99.00"),
            version(order_id, 1, "0"),
            # The same version again with other figures: as one at a time, the first stays.
            version(order_id, 3, "31.00"),
            version(stale_id, 4, "98.00"),
        ]
    )

    assert outcome.rejected == {}
    facts = await rows(
        sessions,
        "SELECT order_id, version, net_paid FROM order_facts WHERE order_id = ANY(:ids)",
        ids=[order_id, stale_id],
    )
    assert {row["order_id"]: (row["version"], row["net_paid"]) for row in facts} == {
        order_id: (3, Decimal("30.00")),
        stale_id: (4, Decimal("40.00")),
    }


async def test_an_order_batch_finds_the_attributions_and_merges_of_a_customer_batch(
    sessions: Sessions, make: Any, apply_batch: ApplyBatch
) -> None:
    merged, survivor, other = (make.new_id("cust") for _ in range(3))
    orders = [make.order(store_id="s", placed_at=PLACED) for _ in range(4)]
    await apply_batch(
        [
            make.attribution_event(order_id=orders[0].order_id, customer_id=merged, store_id="s"),
            make.attribution_event(order_id=orders[1].order_id, customer_id=other, store_id="s"),
            make.merge_event(merged_id=merged, survivor_id=survivor),
            # After the merge, in the same batch: counts for the survivor.
            make.attribution_event(order_id=orders[2].order_id, customer_id=merged, store_id="s"),
        ]
    )

    await apply_batch([make.order_event(order) for order in orders])

    assert await customers_of(sessions, [o.order_id for o in orders]) == {
        orders[0].order_id: survivor,
        orders[1].order_id: other,
        orders[2].order_id: survivor,
        orders[3].order_id: None,
    }


async def test_a_batch_rejects_events_that_break_the_contract_by_position_and_applies_the_rest(
    sessions: Sessions, make: Any, apply_batch: ApplyBatch
) -> None:
    good = [make.order(store_id="s", placed_at=PLACED) for _ in range(3)]
    poison = make.order_event(make.order(store_id="s", placed_at=PLACED))
    too_new = make.order(store_id="s", placed_at=PLACED, version=2**31)
    attribution = make.attribution_event(order_id=good[0].order_id, customer_id="c1", store_id="s")
    bad_attribution = broken(
        make.attribution_event(order_id=good[1].order_id, customer_id="c2", store_id="s"),
        customer_id="",
    )
    erased = CUSTOMER_ERASED.event(CustomerErased(customer_id="c1", erased_at=T0), source="test")

    orders = await apply_batch(
        [
            make.order_event(good[0]),
            broken(poison, version=0),
            make.order_event(good[1]),
            make.order_event(too_new),
            make.order_event(good[2]),
        ]
    )
    customers = await apply_batch([bad_attribution, erased, attribution])

    assert set(orders.rejected) == {1, 3}
    assert isinstance(orders.rejected[1], ValidationError)
    assert set(customers.rejected) == {0}
    assert (orders.counts["applied"], customers.counts["applied"]) == (3, 1)
    assert customers.counts["skipped"] == 1
    stored = await customers_of(sessions, [o.order_id for o in good])
    assert stored == {good[0].order_id: "c1", good[1].order_id: None, good[2].order_id: None}
    claimed = await rows(
        sessions,
        "SELECT event_id FROM processed_events WHERE event_id = ANY(:ids)",
        ids=[attribution.id, bad_attribution.id, erased.id],
    )
    # A rejected event is not claimed: once fixed and re-driven, it applies.
    assert [row["event_id"] for row in claimed] == [attribution.id]


async def test_the_handlers_return_rejections_instead_of_failing_the_batch(
    sessions: Sessions, make: Any
) -> None:
    order = make.order(store_id="s", placed_at=PLACED)
    attribution = make.attribution_event(order_id=order.order_id, customer_id="c", store_id="s")
    wire_orders = [
        parse_envelope(to_json_bytes(event))
        for event in (broken(make.order_event(order), currency="dollars"), make.order_event(order))
    ]
    wire_customers = [
        parse_envelope(to_json_bytes(event))
        for event in (attribution, broken(attribution, order_id=""))
    ]

    order_rejections = await order_events_handler(sessions, topic="t.orders")(wire_orders)
    customer_rejections = await customer_events_handler(sessions, topic="t.customers")(
        wire_customers
    )

    assert list(order_rejections) == [0]
    # The redelivered copy of the attribution is rejected on its own merits, not as a duplicate.
    assert list(customer_rejections) == [1]
    assert await customers_of(sessions, [order.order_id]) == {order.order_id: "c"}


async def test_a_customer_event_redelivered_within_a_batch_applies_once(
    sessions: Sessions, make: Any, apply_batch: ApplyBatch
) -> None:
    merged, survivor = make.new_id("cust"), make.new_id("cust")
    order = make.order(store_id="s", placed_at=PLACED)
    await apply_batch([make.order_event(order)])
    merge = make.merge_event(merged_id=merged, survivor_id=survivor)
    unmerge = make.unmerge_event(merge=merge, order_ids=[order.order_id], time=T0)
    attribution = make.attribution_event(
        order_id=order.order_id, customer_id=merged, store_id="s", time=T0 - timedelta(1)
    )

    outcome = await apply_batch([attribution, merge, unmerge, merge, attribution])
    again = await apply_batch([merge, unmerge])

    # Were the merge applied a second time, the order would be the survivor's again.
    assert await customers_of(sessions, [order.order_id]) == {order.order_id: merged}
    assert (outcome.counts["applied"], outcome.counts["duplicate"]) == (3, 2)
    assert (again.counts["applied"], again.counts["duplicate"]) == (0, 2)


async def test_of_attributions_of_one_order_in_a_batch_the_latest_wins_the_later_of_a_tie(
    sessions: Sessions, make: Any, apply_batch: ApplyBatch
) -> None:
    tie, late = make.new_id("order"), make.new_id("order")

    def attributed(order_id: str, customer_id: str, minutes: int) -> CloudEvent[Any]:
        return make.attribution_event(
            order_id=order_id,
            customer_id=customer_id,
            store_id="s",
            time=T0 + timedelta(minutes=minutes),
        )

    await apply_batch(
        [
            attributed(tie, "c1", 5),
            attributed(late, "c1", 9),
            attributed(tie, "c2", 5),
            attributed(late, "c2", 3),
        ]
    )
    await apply_batch(
        [
            make.order_event(make.order(store_id="s", placed_at=PLACED, order_id=o))
            for o in (tie, late)
        ]
    )

    assert await customers_of(sessions, [tie, late]) == {tie: "c2", late: "c1"}


def _scripted_events(make: Any, prefix: str, seed: int) -> list[CloudEvent[Any]]:
    """A random stream of attributions (times out of order), merges, undone merges and order
    events over a few orders and customers, with ids under `prefix`; the same stream for the
    same seed whatever the prefix."""
    rng = random.Random(seed)
    order_ids = [f"{prefix}-o{n}" for n in range(5)]
    customer_ids = [f"{prefix}-c{n}" for n in range(5)]
    merges: dict[str, CloudEvent[Any]] = {}
    stream: list[CloudEvent[Any]] = []
    for step in range(30):
        roll = rng.random()
        if roll < 0.5:
            stream.append(
                make.attribution_event(
                    order_id=rng.choice(order_ids),
                    customer_id=rng.choice(customer_ids),
                    store_id="s",
                    time=T0 + timedelta(minutes=rng.randrange(60)),
                )
            )
        elif roll < 0.75:
            merged_id, survivor_id = rng.sample(customer_ids, 2)
            if merged_id in merges:
                continue
            data = CustomerMerged(
                merge_id=f"{prefix}-m{step}",
                merged_id=merged_id,
                survivor_id=survivor_id,
                merged_at=T0 + timedelta(minutes=step),
            )
            merges[merged_id] = CUSTOMER_MERGED.event(data, source="test")
            stream.append(merges[merged_id])
        elif roll < 0.9 and merges:
            merge = merges.pop(rng.choice(sorted(merges)))
            assert isinstance(merge.data, CustomerMerged)
            undone = CustomerUnmerged(
                merge_id=merge.data.merge_id,
                merged_id=merge.data.merged_id,
                survivor_id=merge.data.survivor_id,
                unmerged_at=T0,
                order_ids=rng.sample(order_ids, rng.randrange(len(order_ids))),
            )
            at = T0 + timedelta(minutes=rng.randrange(60))
            stream.append(CUSTOMER_UNMERGED.event(undone, source="test", time=at))
        else:
            order = make.order(
                store_id="s", placed_at=PLACED, order_id=rng.choice(order_ids), version=step + 1
            )
            stream.append(make.order_event(order))
    return stream


async def _state(sessions: Sessions, prefix: str) -> dict[str, Any]:
    """The three tables' rows under `prefix`, with the prefix taken off."""

    def plain(value: Any) -> Any:
        return value.removeprefix(prefix) if isinstance(value, str) else value

    state = {}
    for table, key in (
        ("order_facts", "order_id"),
        ("order_attributions", "order_id"),
        ("customer_merges", "merged_id"),
    ):
        found = await rows(
            sessions,
            f"SELECT * FROM {table} WHERE {key} LIKE :pattern ORDER BY {key}",
            pattern=f"{prefix}-%",
        )
        state[table] = [
            {column: plain(value) for column, value in row.items() if column != "external_id"}
            for row in found
        ]
    return state


@pytest.mark.parametrize("seed", range(8))
async def test_a_batch_ends_as_its_events_one_at_a_time(
    sessions: Sessions, make: Any, apply: Apply, apply_batch: ApplyBatch, seed: int
) -> None:
    one_by_one, batched = make.new_id("single"), make.new_id("batch")
    singles = _scripted_events(make, one_by_one, seed)
    stream = _scripted_events(make, batched, seed)

    for event in singles:
        await apply(event)
    # Orders and customer events come on two topics: each its own batches, in stream order
    # (what one at a time gave) only within a topic.
    order_events = [e for e in stream if e.type.startswith("crm.order.")]
    customer_events = [e for e in stream if not e.type.startswith("crm.order.")]
    if customer_events:
        await apply_batch(customer_events)
    if order_events:
        await apply_batch(order_events)

    expected = await _state(sessions, one_by_one)
    assert await _state(sessions, batched) == expected
    assert expected["order_attributions"] or expected["customer_merges"]


async def test_concurrent_order_and_customer_batches_never_lose_a_customer(
    sessions: Sessions, make: Any, apply_batch: ApplyBatch
) -> None:
    survivor = make.new_id("cust")
    orders, customers = [], []
    for _ in range(60):
        order = make.order(store_id="s", placed_at=PLACED)
        merged = make.new_id("cust")
        orders.append(make.order_event(order))
        customers.append(
            make.attribution_event(order_id=order.order_id, customer_id=merged, store_id="s")
        )
        customers.append(make.merge_event(merged_id=merged, survivor_id=survivor))
    rng = random.Random(11)
    rng.shuffle(orders)
    # Each merge follows its attribution on the customer's partition; batches are cut anywhere.
    batches = [orders[i : i + 7] for i in range(0, len(orders), 7)]
    batches += [customers[i : i + 9] for i in range(0, len(customers), 9)]
    rng.shuffle(batches)

    await asyncio.gather(*(apply_batch(batch) for batch in batches))

    ids = [event.subject for event in orders]
    assert await customers_of(sessions, ids) == dict.fromkeys(ids, survivor)


async def test_orders_batched_while_a_merge_is_undone_all_go_back_to_the_merged_customer(
    sessions: Sessions, make: Any, apply_batch: ApplyBatch
) -> None:
    survivor, merged = make.new_id("cust"), make.new_id("cust")
    orders = [make.order(store_id="s", placed_at=PLACED) for _ in range(60)]
    merge = make.merge_event(merged_id=merged, survivor_id=survivor)
    await apply_batch(
        [
            *(
                make.attribution_event(order_id=o.order_id, customer_id=merged, store_id="s")
                for o in orders
            ),
            merge,
        ]
    )
    events = [make.order_event(order) for order in orders]
    batches: list[list[CloudEvent[Any]]] = [events[i : i + 8] for i in range(0, 60, 8)]
    batches.insert(4, [make.unmerge_event(merge=merge, order_ids=[o.order_id for o in orders])])

    await asyncio.gather(*(apply_batch(batch) for batch in batches))

    ids = [order.order_id for order in orders]
    assert await customers_of(sessions, ids) == dict.fromkeys(ids, merged)
