"""The whole service on real Kafka and PostgreSQL: events in on the real topics, KPIs out."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from crm_common.kafka import dlq_topic

pytestmark = pytest.mark.integration

Wait = Callable[..., Awaitable[None]]
MARCH = {"from": "2023-03-01", "to": "2023-04-01T00:00:00Z"}
START = datetime(2023, 3, 1, tzinfo=UTC)
END = datetime(2023, 4, 1, tzinfo=UTC)
DAY = timedelta(days=1)


async def kpis(
    client: httpx.AsyncClient, headers: dict[str, str], store_id: str, **params: str
) -> httpx.Response:
    return await client.get(
        "/v1/kpis", params={"store_id": store_id, **MARCH, **params}, headers=headers
    )


async def test_kpis_of_a_historical_window(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    publish: Callable[..., Awaitable[Any]],
    fact_stored: Wait,
    make: Any,
    store_id: str,
) -> None:
    second = timedelta(seconds=1)
    placed = make.order(store_id=store_id, placed_at=START, net_paid="0", customer_ref="a")
    paid = placed.model_copy(update={"net_paid": 100, "version": 2})
    counted = [
        make.order(store_id=store_id, placed_at=START + DAY, net_paid="50.00", customer_ref="a"),
        make.order(store_id=store_id, placed_at=END - second, net_paid="30.005", customer_ref="b"),
    ]
    cancelled = make.order(store_id=store_id, placed_at=START + DAY, customer_ref="c")
    outside = [
        make.order(store_id=store_id, placed_at=START - second, customer_ref="a"),
        make.order(store_id=store_id, placed_at=END, customer_ref="b"),
    ]
    events = [
        make.order_event(placed),
        make.order_event(paid, "crm.order.paid"),
        *(make.order_event(order) for order in [*counted, cancelled, *outside]),
        make.order_event(
            cancelled.model_copy(update={"cancelled_at": START + 2 * DAY, "version": 2}),
            "crm.order.cancelled",
        ),
    ]
    for event in events:
        await publish(event)
    await fact_stored(
        (placed.order_id, 2),
        (cancelled.order_id, 2),
        *((order.order_id, 1) for order in [*counted, *outside]),
    )

    response = await kpis(client, auth("analyst"), store_id)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "store_id": store_id,
        "from": "2023-03-01T00:00:00Z",
        "to": "2023-04-01T00:00:00Z",
        "currency": "USD",
        "orders": 3,
        "revenue": "180.01",
        "customers": 2,
        "aov": "60.00",
        "repeat_purchase_rate": "0.5000",
    }

    euro = make.order(store_id=store_id, placed_at=START, currency="EUR", net_paid="9.99")
    await publish(make.order_event(euro))
    await fact_stored((euro.order_id, 1))
    mixed = await kpis(client, auth("viewer"), store_id)
    in_euros = await kpis(client, auth("viewer"), store_id, currency="EUR")

    assert mixed.status_code == 409
    assert mixed.headers["content-type"] == "application/problem+json"
    assert "currency" in mixed.json()["detail"]
    assert in_euros.status_code == 200
    assert (in_euros.json()["orders"], in_euros.json()["revenue"]) == (1, "9.99")


async def test_an_attribution_before_its_order_still_counts_the_customer(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    publish: Callable[..., Awaitable[Any]],
    fact_stored: Wait,
    processed: Wait,
    make: Any,
    store_id: str,
) -> None:
    customer = make.new_id("cust")
    # Two different shop references: without the attributions these are two buyers.
    orders = [
        make.order(store_id=store_id, placed_at=START + DAY, net_paid="10.00", customer_ref="x"),
        make.order(store_id=store_id, placed_at=START + DAY, net_paid="20.00", customer_ref="y"),
    ]
    attributions = [
        make.attribution_event(order_id=order.order_id, customer_id=customer, store_id=store_id)
        for order in orders
    ]
    for event in attributions:
        await publish(event)
    await processed(*attributions)

    for order in orders:
        await publish(make.order_event(order))
    await fact_stored(*((order.order_id, 1) for order in orders))
    body = (await kpis(client, auth("marketer"), store_id)).json()

    assert (body["orders"], body["customers"], body["repeat_purchase_rate"]) == (2, 1, "1.0000")


async def test_a_merge_repoints_the_merged_customers_orders(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    publish: Callable[..., Awaitable[Any]],
    fact_stored: Wait,
    processed: Wait,
    make: Any,
    store_id: str,
) -> None:
    survivor, merged = make.new_id("cust"), make.new_id("cust")
    first, second, third = (
        make.order(store_id=store_id, placed_at=START + DAY, net_paid="10.00") for _ in range(3)
    )
    for order in (first, second, third):
        await publish(make.order_event(order))
    attributions = [
        make.attribution_event(order_id=first.order_id, customer_id=survivor, store_id=store_id),
        make.attribution_event(order_id=second.order_id, customer_id=merged, store_id=store_id),
    ]
    for event in attributions:
        await publish(event)
    await fact_stored(*((order.order_id, 1) for order in (first, second, third)))
    await processed(*attributions)
    before = (await kpis(client, auth("analyst"), store_id)).json()

    merge = make.merge_event(merged_id=merged, survivor_id=survivor)
    await publish(merge)
    await processed(merge)
    # An attribution to the merged id after the merge counts for the survivor.
    late = make.attribution_event(order_id=third.order_id, customer_id=merged, store_id=store_id)
    await publish(late)
    await processed(late)
    after = (await kpis(client, auth("analyst"), store_id)).json()

    assert (before["customers"], before["repeat_purchase_rate"]) == (2, "0.0000")
    assert (after["orders"], after["customers"], after["repeat_purchase_rate"]) == (
        3,
        1,
        "1.0000",
    )


async def test_redelivered_and_stale_events_change_nothing(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    publish: Callable[..., Awaitable[Any]],
    fact_stored: Wait,
    processed: Wait,
    make: Any,
    store_id: str,
) -> None:
    placed = make.order(store_id=store_id, placed_at=START + DAY, net_paid="0", customer_ref="r")
    paid = make.order_event(
        placed.model_copy(update={"net_paid": 100, "version": 2}), "crm.order.paid"
    )
    refunded = make.order_event(
        placed.model_copy(update={"net_paid": 60, "version": 3}), "crm.order.refunded"
    )
    for event in (make.order_event(placed), paid, refunded):
        await publish(event)
    await fact_stored((placed.order_id, 3))
    now = datetime.now(UTC)
    first = make.attribution_event(
        order_id=placed.order_id, customer_id="c-first", store_id=store_id, time=now
    )
    second = make.attribution_event(
        order_id=placed.order_id,
        customer_id="c-second",
        store_id=store_id,
        time=now + timedelta(seconds=1),
    )
    other = make.order(store_id=store_id, placed_at=START + DAY, net_paid="0", customer_ref="s")
    others = make.attribution_event(
        order_id=other.order_id, customer_id="c-second", store_id=store_id
    )
    for event in (first, second, make.order_event(other), others):
        await publish(event)
    await processed(first, second, others)
    await fact_stored((other.order_id, 1))
    before = (await kpis(client, auth("analyst"), store_id)).json()

    # The same events once more (same ids and bytes), then markers right behind them on their
    # partitions: once a marker is stored, the redeliveries before it have been handled.
    stale_order = await publish(paid)
    stale_attribution = await publish(first)
    marker_order = make.order(store_id=make.new_id("store"), placed_at=START)
    marker_attribution = make.attribution_event(
        order_id=make.new_id("order"), customer_id="c-first", store_id=store_id
    )
    await publish(make.order_event(marker_order), partition=stale_order.partition)
    await publish(marker_attribution, partition=stale_attribution.partition)
    await fact_stored((marker_order.order_id, 1))
    await processed(marker_attribution)
    after = (await kpis(client, auth("analyst"), store_id)).json()

    assert before["revenue"] == "60.00"
    assert (before["customers"], before["repeat_purchase_rate"]) == (1, "1.0000")
    assert after == before


async def test_the_api_checks_tokens_and_the_window(
    client: httpx.AsyncClient, auth: Callable[..., dict[str, str]], store_id: str
) -> None:
    reader = auth("viewer")

    unauthenticated = await client.get("/v1/kpis", params={"store_id": store_id, **MARCH})
    empty = await kpis(client, reader, store_id)
    backwards = await kpis(client, reader, store_id, **{"from": "2023-04-01", "to": "2023-03-01"})
    naive = await kpis(client, reader, store_id, **{"from": "2023-03-01T00:00:00"})

    assert unauthenticated.status_code == 401
    assert empty.status_code == 200
    assert empty.json() | {"store_id": None} == {
        "store_id": None,
        "from": "2023-03-01T00:00:00Z",
        "to": "2023-04-01T00:00:00Z",
        "currency": None,
        "orders": 0,
        "revenue": "0.00",
        "customers": 0,
        "aov": "0.00",
        "repeat_purchase_rate": "0.0000",
    }
    assert backwards.status_code == 422
    assert [error["field"] for error in backwards.json()["errors"]] == ["query.to"]
    assert naive.status_code == 422
    assert [error["field"] for error in naive.json()["errors"]] == ["query.from"]


async def test_an_unmerge_gives_back_the_kpis_and_facts_before_the_merge(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    publish: Callable[..., Awaitable[Any]],
    fact_stored: Wait,
    processed: Wait,
    database: Any,
    make: Any,
    store_id: str,
) -> None:
    survivor, merged = make.new_id("cust"), make.new_id("cust")
    orders = [
        make.order(store_id=store_id, placed_at=START + DAY, net_paid="10.00") for _ in range(3)
    ]
    for order in orders:
        await publish(make.order_event(order))
    attributions = [
        make.attribution_event(order_id=order.order_id, customer_id=customer, store_id=store_id)
        for order, customer in zip(orders, (survivor, merged, merged), strict=True)
    ]
    for event in attributions:
        await publish(event)
    await fact_stored(*((order.order_id, 1) for order in orders))
    await processed(*attributions)

    async def facts() -> dict[str, str]:
        rows = await database.fetch(
            "SELECT order_id, customer_id FROM order_facts WHERE store_id = $1", store_id
        )
        return {row["order_id"]: row["customer_id"] for row in rows}

    before = (await kpis(client, auth("analyst"), store_id)).json(), await facts()

    merge = make.merge_event(merged_id=merged, survivor_id=survivor)
    await publish(merge)
    await processed(merge)
    merged_kpis = (await kpis(client, auth("analyst"), store_id)).json()
    unmerge = make.unmerge_event(merge=merge, order_ids=[o.order_id for o in orders[1:]])
    await publish(unmerge)
    await processed(unmerge)
    after = (await kpis(client, auth("analyst"), store_id)).json(), await facts()

    # The merge and its undo delivered again (same ids and bytes), then a marker right behind
    # them on their partition: once it is applied, the redeliveries before it have been handled.
    await publish(merge)
    redelivered = await publish(unmerge)
    marker = make.attribution_event(
        order_id=make.new_id("order"), customer_id=merged, store_id=make.new_id("store")
    )
    await publish(marker, partition=redelivered.partition)
    await processed(marker)
    again = (await kpis(client, auth("analyst"), store_id)).json(), await facts()

    assert (before[0]["customers"], before[0]["repeat_purchase_rate"]) == (2, "0.5000")
    assert (merged_kpis["customers"], merged_kpis["repeat_purchase_rate"]) == (1, "1.0000")
    assert after == before
    assert again == before


async def test_an_event_that_breaks_its_contract_is_dead_lettered_and_its_batch_applies(
    client: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
    fact_stored: Wait,
    settings: Any,
    kafka_bootstrap: str,
    make: Any,
    store_id: str,
) -> None:
    before, after = (make.order(store_id=store_id, placed_at=START) for _ in range(2))
    poison = make.order_event(make.order(store_id=store_id, placed_at=START))
    poison.data = poison.data.model_copy(update={"version": 0})  # the contract wants 1 or more

    # One partition, so the three are consecutive offsets and most likely one batch.
    await publish(make.order_event(before), partition=0)
    parked = await publish(poison, partition=0)
    await publish(make.order_event(after), partition=0)
    await fact_stored((before.order_id, 1), (after.order_id, 1))

    dead_letters = AIOKafkaConsumer(
        dlq_topic(settings.orders_topic),
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await dead_letters.start()
    try:
        record = await asyncio.wait_for(dead_letters.getone(), timeout=30)
    finally:
        await dead_letters.stop()
    headers = {name: value.decode() for name, value in record.headers}
    assert headers["x-dlq-source-offset"] == str(parked.offset)
    assert headers["x-dlq-error"] == "ValidationError"
    assert poison.id in headers["x-dlq-reason"]
