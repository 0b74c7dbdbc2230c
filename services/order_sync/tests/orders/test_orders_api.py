"""POST and GET /v1/orders on real PostgreSQL and Kafka: storage, versions and events."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from crm_common.runtime import PostgresRuntime
from crm_events.registry import CONTRACTS
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.orders.events import order_id_for
from sqlalchemy import text

pytestmark = pytest.mark.integration

Json = dict[str, Any]
SubmitOrders = Callable[..., Awaitable[int | None]]


async def count_rows(app: FastAPI, sql: str, **params: Any) -> int:
    runtime: PostgresRuntime = app.state.runtime
    async with runtime.sessions() as session:
        return int(await session.scalar(text(sql), params) or 0)


async def test_a_new_order_is_stored_and_announced(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    eventually: Callable[..., Awaitable[Any]],
    submit_order: SubmitOrders,
    store_id: str,
) -> None:
    await register_store(client, store_id, country="US")
    order = make_order(store_id, "9007199254740993", gift_message="Happy birthday")

    version = await submit_order(client, order)

    order_id = order_id_for(store_id, "9007199254740993")
    assert version == 1

    stored = (await client.get(f"/v1/orders/{order_id}", headers=auth("agent"))).json()
    assert stored["external_id"] == "9007199254740993"
    assert stored["version"] == 1
    assert stored["net_paid"] == "32.00"
    assert stored["total"] == "32.00"
    assert stored["gift_message"] == "Happy birthday"
    assert stored["store_country"] == "US"
    assert stored["customer"]["phone"] == "+1 415 555 0100"
    lines = "SELECT count(*) FROM order_lines WHERE order_id = :o"
    assert await count_rows(app, lines, o=order_id) == 1

    records = await read_topic(
        settings.orders_topic, lambda rs: len(order_events(rs, order_id)) >= 2
    )
    events = order_events(records, order_id)
    assert [e["type"] for e in events] == ["crm.order.placed", "crm.order.paid"]
    for record, event in zip(records, events, strict=True):
        CONTRACTS.validate(event)
        assert record.key == order_id.encode()
        assert event["source"] == "order-sync"
        assert event["data"]["store_id"] == store_id
        assert event["data"]["version"] == 1
        assert event["data"]["gift_message"] == "Happy birthday"
        assert event["data"]["store_country"] == "US"
        assert event["data"]["customer"]["email"] == "Ann@Example.com"

    # The relay deletes its rows only once Kafka has acknowledged them: soon, not at once.
    async def outbox_drained() -> bool:
        return await count_rows(app, "SELECT count(*) FROM outbox_events") == 0

    await eventually(outbox_drained, what="the outbox drained")


async def test_the_same_or_an_older_order_changes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    submit_order: SubmitOrders,
    store_id: str,
) -> None:
    await register_store(client, store_id)
    first = make_order(store_id, financial_status="pending", updated_at="2026-11-01T10:05:00Z")
    order_id = order_id_for(store_id, "1001")
    admin = auth("admin")

    versions = [
        await submit_order(client, body)
        for body in (
            first,
            first,
            {**first, "note": "same time", "financial_status": "paid"},
            {**first, "note": "older", "updated_at": "2026-11-01T10:00:00Z"},
            {**first, "updated_at": "2026-11-01T10:06:00Z"},  # newer, but nothing changed
            {**first, "note": "older still", "updated_at": "2026-11-01T10:05:30Z"},
        )
    ]

    # Created, then unchanged five times: the version never moves.
    assert versions == [1] * 6
    stored = (await client.get(f"/v1/orders/{order_id}", headers=admin)).json()
    assert stored["version"] == 1
    assert stored["note"] is None
    assert stored["updated_at"] == "2026-11-01T10:06:00Z"

    # A real change afterwards is the barrier: its event follows every earlier one on the
    # order's partition, so anything the repeats had published would show up before it.
    paid = {**first, "financial_status": "paid", "updated_at": "2026-11-01T11:00:00Z"}
    assert await submit_order(client, paid) == 2

    records = await read_topic(
        settings.orders_topic,
        lambda rs: any(e["data"]["version"] == 2 for e in order_events(rs, order_id)),
    )
    events = order_events(records, order_id)
    assert [(e["type"], e["data"]["version"]) for e in events] == [
        ("crm.order.placed", 1),
        ("crm.order.paid", 2),
    ]
    assert events[1]["data"]["net_paid"] == "32.00"


async def test_an_update_without_transition_is_announced_as_updated(
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    admin = auth("admin")
    first = make_order(store_id)
    order_id = order_id_for(store_id, "1001")
    revisions = [
        first,
        {**first, "tags": ["gift"], "updated_at": "2026-11-02T10:00:00Z"},
        {
            **first,
            "tags": ["gift"],
            "fulfillment_status": "fulfilled",
            "updated_at": "2026-11-03T10:00:00Z",
        },
        {
            **first,
            "tags": ["gift"],
            "fulfillment_status": "fulfilled",
            "financial_status": "partially_refunded",
            "refunded_total": "12.50",
            "updated_at": "2026-11-04T10:00:00Z",
        },
    ]

    for body in revisions:
        response = await client.post("/v1/orders", json=body, headers=admin)
        assert response.status_code == 202, response.text

    records = await read_topic(
        settings.orders_topic,
        lambda rs: any(e["data"]["version"] == 4 for e in order_events(rs, order_id)),
    )
    events = order_events(records, order_id)
    assert [(e["type"], e["data"]["version"]) for e in events] == [
        ("crm.order.placed", 1),
        ("crm.order.paid", 1),
        ("crm.order.updated", 2),
        ("crm.order.fulfilled", 3),
        ("crm.order.partially_refunded", 4),
    ]
    assert events[-1]["data"]["net_paid"] == "19.50"
    for event in events:
        CONTRACTS.validate(event)


async def test_concurrent_deliveries_of_one_new_order_create_it_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    submit_order: SubmitOrders,
    store_id: str,
) -> None:
    await register_store(client, store_id)
    order = make_order(store_id, financial_status="pending")

    # Created once, unchanged three times: one version.
    assert await submit_order(client, *[order] * 4) == 1
    order_id = order_id_for(store_id, "1001")
    barrier = {**order, "note": "barrier", "updated_at": "2026-11-09T00:00:00Z"}
    await client.post("/v1/orders", json=barrier, headers=auth("admin"))
    records = await read_topic(
        settings.orders_topic,
        lambda rs: any(e["data"]["version"] == 2 for e in order_events(rs, order_id)),
    )
    assert [e["type"] for e in order_events(records, order_id)] == [
        "crm.order.placed",
        "crm.order.updated",
    ]
    assert await count_rows(app, "SELECT count(*) FROM orders") == 1


async def test_an_invalid_order_is_422_and_stores_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    bad = make_order(store_id, total=32.0, lines=[{"name": "Mug", "quantity": 0}])

    response = await client.post("/v1/orders", json=bad, headers=auth("admin"))

    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "total",
        "lines.0.quantity",
        "lines.0.unit_price",
    }
    assert await count_rows(app, "SELECT count(*) FROM orders") == 0
    assert await count_rows(app, "SELECT count(*) FROM outbox_events") == 0


async def test_an_order_of_an_unknown_store_is_422_on_store_id(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    make_order: Callable[..., Json],
    store_id: str,
) -> None:
    response = await client.post("/v1/orders", json=make_order(store_id), headers=auth("admin"))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["store_id"]
    assert await count_rows(app, "SELECT count(*) FROM orders") == 0
    assert await count_rows(app, "SELECT count(*) FROM outbox_events") == 0


async def test_orders_need_a_token_and_the_admin_role(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    order = make_order(store_id)
    order_id = order_id_for(store_id, "1001")

    anonymous = await client.post("/v1/orders", json=order)
    viewer = await client.post("/v1/orders", json=order, headers=auth("viewer"))
    read_anonymous = await client.get(f"/v1/orders/{order_id}")
    missing = await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))

    assert (anonymous.status_code, viewer.status_code) == (401, 403)
    assert (read_anonymous.status_code, missing.status_code) == (401, 404)
    assert await count_rows(app, "SELECT count(*) FROM orders") == 0
