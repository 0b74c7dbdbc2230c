"""Every pair of order snapshots (payments, refunds, shipments and returns included), sent in
either order on real PostgreSQL and Kafka, ends in the same stored order; the newer one alone
decides, and only the transitions of the order actually applied are published."""

import itertools
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from crm_events.shop import CanonicalOrder
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.orders.lifecycle import LifecycleState, lifecycle_events
from sqlalchemy import text

pytestmark = pytest.mark.integration

Json = dict[str, Any]
OLDER = datetime(2026, 11, 1, 10, tzinfo=UTC)
NEWER = OLDER + timedelta(days=3)
LINES = [{"external_id": "l-1", "sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "16"}]
SHIPPED = {
    "external_id": "f-1",
    "status": "in_transit",
    "carrier": "UPS",
    "tracking_numbers": ["1Z1"],
    "lines": [{"line_external_id": "l-1", "quantity": 2}],
}
DELIVERED = {**SHIPPED, "status": "delivered"}
REFUND = {"external_id": "rf-1", "amount": "16.00", "lines": [{"sku": "MUG-1", "quantity": 1}]}
RECEIVED = {"external_id": "r-1", "status": "received", "lines": [{"sku": "MUG-1", "quantity": 1}]}
SALE = {"external_id": "tx-1", "kind": "sale", "amount": "32.00", "gateway": "stripe"}
STATES: list[Json] = [
    {"financial_status": "pending"},
    {"financial_status": "authorized", "payments": [{**SALE, "kind": "authorization"}]},
    {"financial_status": "paid", "payments": [SALE]},
    {"financial_status": "paid", "fulfillment_status": "fulfilled", "shipments": [SHIPPED]},
    {"financial_status": "paid", "fulfillment_status": "fulfilled", "shipments": [DELIVERED]},
    {
        "financial_status": "partially_refunded",
        "fulfillment_status": "fulfilled",
        "shipments": [DELIVERED],
        "refunds": [REFUND],
        "returns": [RECEIVED],
    },
    {
        "financial_status": "refunded",
        "fulfillment_status": "fulfilled",
        "shipments": [DELIVERED],
        "refunds": [REFUND, {**REFUND, "external_id": "rf-2"}],
        "returns": [RECEIVED, {**RECEIVED, "external_id": "r-2"}],
    },
    {
        "financial_status": "paid",
        "fulfillment_status": "partial",
        "shipments": [{**SHIPPED, "tracking_numbers": ["1Z2"]}, {"status": "cancelled"}],
    },
    {"financial_status": "voided", "cancelled_at": OLDER.isoformat()},
]


def snapshot(
    make_order: Callable[..., Json], store_id: str, name: str, state: int, at: datetime
) -> Json:
    return make_order(store_id, name, lines=LINES, updated_at=at.isoformat(), **STATES[state])


def owed(*orders: Json) -> list[str]:
    """The event types of storing `orders` one after the other, each newer than the last."""
    states = [LifecycleState.of(CanonicalOrder.model_validate(order)) for order in orders]
    events = lifecycle_events(None, states[0])
    for previous, current in itertools.pairwise(states):
        events = events + lifecycle_events(previous, current)
    return [str(event) for event in events]


async def test_every_pair_of_snapshots_in_either_order_ends_in_the_newer_one(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[Any]],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    pairs = list(itertools.permutations(range(len(STATES)), 2))
    items, expected = [], {}
    for older, newer in pairs:
        for direction in ("fwd", "rev"):
            name = f"{older}-{newer}-{direction}"
            a = snapshot(make_order, store_id, name, older, OLDER)
            b = snapshot(make_order, store_id, name, newer, NEWER)
            items.extend([a, b] if direction == "fwd" else [b, a])
            expected[name] = owed(a, b) if direction == "fwd" else owed(b)

    response = await client.post("/v1/orders:batch", json={"orders": items}, headers=auth("admin"))
    assert response.status_code == 200, response.text
    assert {r["status"] for r in response.json()["results"][1::2]} == {"updated", "unchanged"}

    async with app.state.runtime.sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT o.external_id, o.version, o.financial_status, o.fulfillment_status,"
                    " o.cancelled_at, o.updated_at, o.refunded_total, o.net_paid,"
                    " o.body - 'external_id' AS body,"
                    " (SELECT json_agg(json_build_array(s.external_id, s.status, s.carrier,"
                    "   s.tracking_numbers, s.lines) ORDER BY s.position) FROM order_shipments s"
                    "   WHERE s.order_id = o.order_id) AS shipments,"
                    " (SELECT count(*) FROM order_refunds r WHERE r.order_id = o.order_id),"
                    " (SELECT count(*) FROM order_returns r WHERE r.order_id = o.order_id),"
                    " (SELECT count(*) FROM order_payments p WHERE p.order_id = o.order_id)"
                    " FROM orders o WHERE o.store_id = :s"
                ),
                {"s": store_id},
            )
        ).all()
    stored = {row[0]: row[1:] for row in rows}
    for older, newer in pairs:
        forward, backward = stored[f"{older}-{newer}-fwd"], stored[f"{older}-{newer}-rev"]
        # Same end state (the version says how many changes were stored, which differs).
        assert forward[1:] == backward[1:], (older, newer)
        assert forward[4] == NEWER
        assert (forward[0], backward[0]) == (2, 1)

    total = sum(len(events) for events in expected.values())
    records = await read_topic(settings.orders_topic, lambda rs: len(rs) >= total, timeout=90)
    published: dict[str, list[str]] = {}
    for record in records:
        event = json.loads(record.value)
        published.setdefault(event["data"]["external_id"], []).append(event["type"])
    assert published == expected
