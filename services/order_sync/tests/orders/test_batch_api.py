"""POST /v1/orders:batch on real PostgreSQL and Kafka: each item on its own, one transaction."""

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


async def scalar(app: FastAPI, sql: str, **params: Any) -> Any:
    runtime: PostgresRuntime = app.state.runtime
    async with runtime.sessions() as session:
        return await session.scalar(text(sql), params)


async def test_invalid_items_are_rejected_in_place_and_the_valid_ones_stored(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    store_id: str,
) -> None:
    await register_store(client, store_id, country="US")
    first = make_order(store_id, "A", financial_status="pending")
    paid = {**first, "financial_status": "paid", "updated_at": "2026-11-02T00:00:00Z"}
    second = make_order(store_id, 9007199254740993)
    items: list[Any] = [
        first,
        make_order(store_id, "BAD", total=32.0, lines=[{"name": "Mug", "quantity": 0}]),
        second,
        5,
        make_order("no-such-store", "X"),
        paid,
        second,
        make_order(store_id, "NUL", note="a\x00b"),
    ]

    response = await client.post("/v1/orders:batch", json={"orders": items}, headers=auth("admin"))

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    a, b = order_id_for(store_id, "A"), order_id_for(store_id, "9007199254740993")
    assert [(r["index"], r["external_id"], r["order_id"], r["status"]) for r in results] == [
        (0, "A", a, "created"),
        (1, "BAD", None, "rejected"),
        (2, "9007199254740993", b, "created"),
        (3, None, None, "rejected"),
        (4, "X", None, "rejected"),
        (5, "A", a, "updated"),
        (6, "9007199254740993", b, "unchanged"),
        (7, "NUL", None, "rejected"),
    ]
    assert {e["field"] for e in results[1]["errors"]} == {
        "total",
        "lines.0.quantity",
        "lines.0.unit_price",
    }
    assert [e["field"] for e in results[3]["errors"]] == [""]
    assert [e["field"] for e in results[4]["errors"]] == ["store_id"]
    assert [e["field"] for e in results[7]["errors"]] == ["note"]
    assert all("errors" not in r for r in results if r["status"] != "rejected")

    stored = (await client.get(f"/v1/orders/{a}", headers=auth("viewer"))).json()
    assert (stored["version"], stored["financial_status"]) == (2, "paid")
    records = await read_topic(
        settings.orders_topic,
        lambda rs: len(order_events(rs, a)) >= 2 and len(order_events(rs, b)) >= 2,
    )
    assert [(e["type"], e["data"]["version"]) for e in order_events(records, a)] == [
        ("crm.order.placed", 1),
        ("crm.order.paid", 2),
    ]
    assert [e["type"] for e in order_events(records, b)] == ["crm.order.placed", "crm.order.paid"]
    for event in order_events(records, a) + order_events(records, b):
        CONTRACTS.validate(event)
    assert await scalar(app, "SELECT count(*) FROM orders") == 2
    # Rejections of registered stores are kept for the sync status; the others name no store.
    assert await scalar(app, "SELECT count(*) FROM order_rejections") == 2
    assert await scalar(app, "SELECT count(*) FROM orders WHERE changed_via = 'rest'") == 2


async def test_more_than_a_thousand_orders_is_422_on_orders(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    items = [make_order(store_id, str(n)) for n in range(1001)]

    response = await client.post("/v1/orders:batch", json={"orders": items}, headers=auth("admin"))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["orders"]
    assert await scalar(app, "SELECT count(*) FROM orders") == 0


async def test_a_full_batch_of_new_orders_then_the_same_again(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    items = [
        make_order(
            store_id,
            f"N-{n}",
            financial_status=("pending", "paid", "refunded")[n % 3],
            lines=[
                {"sku": f"SKU-{k}", "name": f"Item {k}", "quantity": 1, "unit_price": "10.00"}
                for k in range(1 + n % 3)
            ],
        )
        for n in range(1000)
    ]

    first = await client.post("/v1/orders:batch", json={"orders": items}, headers=auth("admin"))
    again = await client.post("/v1/orders:batch", json={"orders": items}, headers=auth("admin"))

    assert {r["status"] for r in first.json()["results"]} == {"created"}
    assert {r["status"] for r in again.json()["results"]} == {"unchanged"}
    assert await scalar(app, "SELECT count(*) FROM orders") == 1000
    lines = sum(len(item["lines"]) for item in items)
    assert await scalar(app, "SELECT count(*) FROM order_lines") == lines
