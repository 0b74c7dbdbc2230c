"""Stock on real PostgreSQL and Kafka: set by PUT, moved by orders, announced on its topic."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from crm_events.registry import CONTRACTS
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.orders.events import order_id_for
from sqlalchemy import text

pytestmark = pytest.mark.integration

Json = dict[str, Any]
SubmitOrders = Callable[..., Awaitable[int | None]]
Auth = Callable[..., dict[str, str]]


def events_about(records: list[Any], stock_id: str) -> list[Json]:
    events = [json.loads(record.value) for record in records if record.value is not None]
    return [event for event in events if event["subject"] == stock_id]


def summary(events: list[Json]) -> list[tuple[str, str, int | None, int]]:
    return [
        (
            e["type"].removeprefix("crm.inventory."),
            e["data"]["reason"],
            e["data"]["previous"],
            e["data"]["quantity"],
        )
        for e in events
    ]


async def count_rows(app: FastAPI, sql: str, **params: Any) -> int:
    async with app.state.runtime.sessions() as session:
        return int(await session.scalar(text(sql), params) or 0)


async def test_a_paid_order_takes_stock_and_its_cancel_gives_it_back(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Auth,
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[list[Any]]],
    store_id: str,
    submit_order: SubmitOrders,
) -> None:
    await register_store(client, store_id)
    admin = auth("admin")
    put = await client.put(
        f"/v1/inventory/MUG-1?store_id={store_id}",
        json={"quantity": 6, "low_stock_threshold": 5},
        headers=admin,
    )
    assert put.status_code == 200, put.text
    assert put.json()["quantity"] == 6
    assert put.json()["low_stock"] is False

    lines = [
        {"sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "12.50"},
        {"sku": None, "name": "Gift wrap", "quantity": 1, "unit_price": "1.00"},
        {"sku": "UNTRACKED", "name": "Spoon", "quantity": 1, "unit_price": "3.00"},
    ]
    paid = make_order(store_id, "5001", lines=lines)
    assert await submit_order(client, paid) == 1
    order_id = order_id_for(store_id, "5001")
    # The same paid order again changes nothing, and so moves no stock.
    assert await submit_order(client, paid) == 1

    level = await client.get(f"/v1/inventory/MUG-1?store_id={store_id}", headers=auth("viewer"))
    assert level.status_code == 200
    assert level.json()["quantity"] == 4
    assert level.json()["low_stock"] is True
    untracked = await client.get(f"/v1/inventory/UNTRACKED?store_id={store_id}", headers=admin)
    assert untracked.status_code == 404

    # The cancel gives back what the sale took, whatever the lines of the cancelled revision.
    cancelled = {
        **paid,
        "updated_at": "2026-11-01T11:00:00Z",
        "cancelled_at": "2026-11-01T11:00:00Z",
        "lines": [{"sku": None, "name": "Mug", "quantity": 5, "unit_price": "12.50"}],
    }
    assert await submit_order(client, cancelled) == 2
    # A later revision of the cancelled order gives nothing back a second time.
    noted = {**cancelled, "updated_at": "2026-11-01T12:00:00Z", "note": "refund sent"}
    assert await submit_order(client, noted) == 3

    level = await client.get(f"/v1/inventory/MUG-1?store_id={store_id}", headers=admin)
    assert level.json()["quantity"] == 6
    assert level.json()["version"] == 3

    stock_id = f"{store_id}:MUG-1"
    records = await read_topic(
        settings.inventory_topic, lambda rs: len(events_about(rs, stock_id)) >= 4
    )
    events = events_about(records, stock_id)
    assert summary(events) == [
        ("stock_changed", "manual", None, 6),
        ("stock_changed", "order_paid", 6, 4),
        ("low_stock", "order_paid", 6, 4),
        ("stock_changed", "order_cancelled", 4, 6),
    ]
    for record, event in zip(records, events, strict=True):
        CONTRACTS.validate(event)
        assert record.key == stock_id.encode()
        assert event["source"] == "order-sync"
    assert [e["data"]["order_id"] for e in events] == [None, order_id, order_id, order_id]
    assert [e["data"]["version"] for e in events] == [1, 2, 2, 3]
    kinds = "SELECT count(*) FROM stock_movements WHERE order_id = :o"
    assert await count_rows(app, kinds, o=order_id) == 2


async def test_orders_in_one_batch_move_stock_in_order_and_may_oversell(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Auth,
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[list[Any]]],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    admin = auth("admin")
    await client.put(
        f"/v1/inventory/MUG-1?store_id={store_id}", json={"quantity": 3}, headers=admin
    )
    first = make_order(store_id, "6001", financial_status="pending")
    second = make_order(store_id, "6002")
    batch = [
        first,
        second,
        {**first, "financial_status": "paid", "updated_at": "2026-11-01T10:10:00Z"},
        {**first, "updated_at": "2026-11-01T10:20:00Z", "cancelled_at": "2026-11-01T10:20:00Z"},
        make_order(store_id, "6003", updated_at="2026-11-01T10:30:00Z"),
    ]

    response = await client.post("/v1/orders:batch", json={"orders": batch}, headers=admin)
    assert response.status_code == 200, response.text

    level = (await client.get(f"/v1/inventory/MUG-1?store_id={store_id}", headers=admin)).json()
    assert level["quantity"] == -1  # 3 - 2 - 2 + 2 - 2
    assert level["oversold"] is True
    records = await read_topic(
        settings.inventory_topic,
        lambda rs: len(events_about(rs, f"{store_id}:MUG-1")) >= 5,
    )
    assert [e["data"]["quantity"] for e in events_about(records, f"{store_id}:MUG-1")] == [
        3,
        1,
        -1,
        1,
        -1,
    ]


async def test_levels_are_listed_by_sku_in_pages(
    client: httpx.AsyncClient,
    auth: Auth,
    register_store: Callable[..., Awaitable[httpx.Response]],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    for sku in ("C-3", "A-1", "B/2", "D-4", "E-5"):
        response = await client.put(
            "/v1/inventory/" + sku.replace("/", "%2F"),
            json={"store_id": store_id, "quantity": 10},
            headers=auth("admin"),
        )
        assert response.status_code == 200, response.text

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"store_id": store_id, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await client.get("/v1/inventory", params=params, headers=auth("analyst"))
        assert page.status_code == 200, page.text
        seen += [level["sku"] for level in page.json()["levels"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ["A-1", "B/2", "C-3", "D-4", "E-5"]

    elsewhere = await client.get(
        "/v1/inventory",
        params={"store_id": "other", "cursor": "eyJzIjoieCIsImsiOiJBIn0"},
        headers=auth("viewer"),
    )
    assert elsewhere.status_code == 422
    assert [e["field"] for e in elsewhere.json()["errors"]] == ["cursor"]


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/v1/inventory/MUG-1?store_id={store}", {"quantity": -1}, "quantity"),
        (
            "/v1/inventory/MUG-1?store_id={store}",
            {"quantity": 1, "low_stock_threshold": -1},
            "low_stock_threshold",
        ),
        ("/v1/inventory/MUG-1", {"quantity": 1}, "query.store_id"),
        ("/v1/inventory/MUG-1?store_id={store}", {"store_id": "else", "quantity": 1}, "store_id"),
        ("/v1/inventory/MUG-1?store_id=nowhere", {"quantity": 1}, "store_id"),
    ],
)
async def test_a_bad_count_is_422_on_its_field_and_stores_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: Auth,
    register_store: Callable[..., Awaitable[httpx.Response]],
    store_id: str,
    url: str,
    body: Json,
    field: str,
) -> None:
    await register_store(client, store_id)

    response = await client.put(url.format(store=store_id), json=body, headers=auth("admin"))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert await count_rows(app, "SELECT count(*) FROM stock_levels") == 0
    assert await count_rows(app, "SELECT count(*) FROM outbox_events") == 0


async def test_counts_need_the_admin_role_and_reads_a_token(
    client: httpx.AsyncClient, auth: Auth, store_id: str
) -> None:
    put = await client.put(
        f"/v1/inventory/MUG-1?store_id={store_id}", json={"quantity": 1}, headers=auth("viewer")
    )
    assert put.status_code == 403
    assert (await client.get(f"/v1/inventory?store_id={store_id}")).status_code == 401
