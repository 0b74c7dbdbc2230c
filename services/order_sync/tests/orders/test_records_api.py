"""Payments, refunds, shipments and returns through the canonical REST API, on real PostgreSQL and
Kafka: stored as their own rows, shown with the order's net revenue, announced, moving stock."""

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
LINES = [
    {"external_id": "l-1", "sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "12.50"},
    {"external_id": "l-2", "sku": "TEA-1", "name": "Tea", "quantity": 1, "unit_price": "7.00"},
]
SALE = {
    "external_id": "tx-1",
    "kind": "sale",
    "status": "success",
    "amount": "39.00",
    "gateway": "stripe",
    "processed_at": "2026-11-01T10:00:05Z",
}
SHIPMENT = {
    "external_id": "f-1",
    "status": "in_transit",
    "carrier": "DHL",
    "tracking_numbers": ["JD0146"],
    "tracking_urls": ["https://dhl.example/JD0146"],
    "lines": [
        {"line_external_id": "l-1", "quantity": 2},
        {"line_external_id": "l-2", "quantity": 1},
    ],
    "shipped_at": "2026-11-02T09:00:00Z",
    "updated_at": "2026-11-02T09:00:00Z",
}
REFUND = {
    "external_id": "rf-1",
    "amount": "12.50",
    "gateway": "stripe",
    "processed_at": "2026-11-06T10:00:00Z",
    "note": "chipped",
    "lines": [{"line_external_id": "l-1", "sku": "MUG-1", "quantity": 1, "amount": "12.50"}],
    "restocked": True,
}
RETURN = {
    "external_id": "ret-1",
    "status": "received",
    "lines": [{"line_external_id": "l-1", "quantity": 1, "reason": "chipped"}],
    "requested_at": "2026-11-04T10:00:00Z",
    "received_at": "2026-11-06T09:00:00Z",
}


async def table(app: FastAPI, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with app.state.runtime.sessions() as session:
        return [dict(row) for row in (await session.execute(text(sql), params)).mappings()]


async def test_an_orders_records_are_stored_shown_announced_and_move_stock(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    store_id: str,
    submit_order: SubmitOrders,
) -> None:
    await register_store(client, store_id)
    admin, viewer = auth("admin"), auth("viewer")
    for sku in ("MUG-1", "TEA-1"):
        put = await client.put(
            f"/v1/inventory/{sku}?store_id={store_id}", json={"quantity": 10}, headers=admin
        )
        assert put.status_code == 200, put.text

    revisions = [
        make_order(
            store_id,
            "7001",
            lines=LINES,
            total="39.00",
            payments=[SALE],
            updated_at="2026-11-01T10:05:00Z",
        ),
        make_order(
            store_id,
            "7001",
            lines=LINES,
            total="39.00",
            payments=[SALE],
            fulfillment_status="fulfilled",
            shipments=[SHIPMENT],
            updated_at="2026-11-02T09:00:00Z",
        ),
        make_order(
            store_id,
            "7001",
            lines=LINES,
            total="39.00",
            payments=[SALE],
            fulfillment_status="fulfilled",
            shipments=[{**SHIPMENT, "status": "delivered", "updated_at": "2026-11-03T12:00:00Z"}],
            updated_at="2026-11-03T12:00:00Z",
        ),
        # The refund and the return together; refunded_total is left to the refunds.
        make_order(
            store_id,
            "7001",
            lines=LINES,
            total="39.00",
            financial_status="partially_refunded",
            payments=[SALE],
            fulfillment_status="fulfilled",
            shipments=[{**SHIPMENT, "status": "delivered", "updated_at": "2026-11-03T12:00:00Z"}],
            refunds=[REFUND],
            returns=[RETURN],
            updated_at="2026-11-06T10:00:00Z",
        ),
    ]
    versions = [await submit_order(client, revision) for revision in revisions]
    assert versions == [1, 2, 3, 4]
    order_id = order_id_for(store_id, "7001")
    # The second revision again, late: older than what is stored, so it changes nothing.
    assert await submit_order(client, revisions[1]) == 4

    stored = (await client.get(f"/v1/orders/{order_id}", headers=viewer)).json()
    assert stored["version"] == 4
    assert stored["payments"] == [{**SALE, "currency": None, "parent_id": None}]
    assert stored["refunds"][0]["amount"] == "12.50"
    assert stored["refunded_total"] == "12.50"
    assert stored["shipments"][0]["status"] == "delivered"
    assert stored["returns"][0]["received_at"] == "2026-11-06T09:00:00Z"
    assert stored["net"] == {"paid": "39.00", "refunded": "12.50", "net": "26.50"}
    assert stored["net_paid"] == "26.50"
    listed = (await client.get(f"/v1/orders?store_id={store_id}", headers=viewer)).json()
    assert listed["orders"] == [stored]

    # Their own rows, of the stored revision only.
    payments = await table(app, "SELECT * FROM order_payments WHERE order_id = :o", o=order_id)
    assert [(p["external_id"], p["kind"], p["amount"], p["currency"]) for p in payments] == [
        ("tx-1", "sale", 39, "USD")
    ]
    shipments = await table(app, "SELECT * FROM order_shipments WHERE order_id = :o", o=order_id)
    assert [(s["status"], s["carrier"], s["tracking_numbers"]) for s in shipments] == [
        ("delivered", "DHL", ["JD0146"])
    ]
    refunds = await table(app, "SELECT * FROM order_refunds WHERE order_id = :o", o=order_id)
    assert [(r["external_id"], r["restocked"], r["lines"][0]["quantity"]) for r in refunds] == [
        ("rf-1", True, 1)
    ]
    returns = await table(app, "SELECT * FROM order_returns WHERE order_id = :o", o=order_id)
    assert [(r["external_id"], r["status"]) for r in returns] == [("ret-1", "received")]

    records = await read_topic(
        settings.orders_topic, lambda rs: len(order_events(rs, order_id)) >= 8
    )
    events = order_events(records, order_id)
    assert [(e["type"].removeprefix("crm.order."), e["data"]["version"]) for e in events] == [
        ("placed", 1),
        ("paid", 1),
        ("fulfilled", 2),
        ("shipment_updated", 2),
        ("shipment_updated", 3),
        ("delivered", 3),
        ("partially_refunded", 4),
        ("returned", 4),
    ]
    for event in events:
        CONTRACTS.validate(event)

    levels = (await client.get(f"/v1/inventory?store_id={store_id}", headers=viewer)).json()
    # Sold 2 mugs and a tea, one mug came back.
    assert {level["sku"]: level["quantity"] for level in level_list(levels)} == {
        "MUG-1": 9,
        "TEA-1": 9,
    }


def level_list(page: Json) -> list[Json]:
    levels: list[Json] = page["levels"]
    return levels


async def test_a_newer_revision_replaces_the_records_and_a_batch_stores_the_same(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    store_id: str,
    submit_order: SubmitOrders,
) -> None:
    await register_store(client, store_id)
    admin = auth("admin")
    first = make_order(store_id, "8001", lines=LINES, shipments=[SHIPMENT], payments=[SALE])
    newer = make_order(
        store_id,
        "8001",
        lines=LINES,
        updated_at="2026-11-09T10:00:00Z",
        shipments=[{**SHIPMENT, "status": "cancelled"}, {**SHIPMENT, "external_id": "f-2"}],
    )

    assert [await submit_order(client, order) for order in (first, newer)] == [1, 2]
    batched = [{**order, "external_id": "8002"} for order in (first, newer)]
    response = await client.post("/v1/orders:batch", json={"orders": batched}, headers=admin)
    assert [r["status"] for r in response.json()["results"]] == ["created", "updated"]

    query = (
        "SELECT o.external_id, s.position, s.external_id AS shipment, s.status"
        " FROM order_shipments s JOIN orders o USING (order_id)"
        " WHERE o.store_id = :s ORDER BY o.external_id, s.position"
    )
    assert [tuple(r.values())[1:] for r in await table(app, query, s=store_id)] == [
        (0, "f-1", "cancelled"),
        (1, "f-2", "in_transit"),
    ] * 2
    payments = "SELECT count(*) AS n FROM order_payments p JOIN orders o USING (order_id)"
    assert await table(app, payments + " WHERE o.store_id = :s", s=store_id) == [{"n": 0}]


async def test_a_record_that_breaks_the_contract_is_422_on_its_field(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    order = make_order(
        store_id,
        "9001",
        payments=[{"kind": "gift", "amount": 5.5}],
        shipments=[{"status": "lost", "lines": [{"sku": "MUG-1", "quantity": 0}]}],
    )

    response = await client.post("/v1/orders", json=order, headers=auth("admin"))

    assert response.status_code == 422, response.text
    fields = {error["field"] for error in response.json()["errors"]}
    assert {
        "payments.0.kind",
        "payments.0.amount",
        "shipments.0.status",
        "shipments.0.lines.0.quantity",
    } <= fields
