"""A shop replays the same 1,000 orders twice, shuffled, with duplicates: the stored history and
the published transitions are exactly those of one clean pass (batch API and shop.orders.v1)."""

import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from crm_common.envelope import CloudEvent
from crm_common.runtime import PostgresRuntime
from fastapi import FastAPI
from order_sync.config import Settings
from sqlalchemy import text

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Json = dict[str, Any]
START = datetime(2026, 10, 1, tzinfo=UTC)
FINANCIAL = ("pending", "authorized", "paid", "partially_refunded", "refunded", "voided")
FULFILLMENT = ("unfulfilled", "partial", "fulfilled")
SHIPMENT_STATUS = (None, "in_transit", "delivered", "cancelled")
REFUNDED = {"partially_refunded": "10.00", "refunded": "32.00"}


def history(store_id: str, make_order: Callable[..., Json]) -> list[Json]:
    """1,000 orders in every lifecycle state, each as the shop last sent it."""
    orders = []
    for n in range(1000):
        placed = START + timedelta(minutes=n)
        financial = FINANCIAL[n % 6]
        shipment = SHIPMENT_STATUS[n % 4]
        orders.append(
            make_order(
                store_id,
                f"R-{n}",
                placed_at=placed.isoformat(),
                updated_at=(placed + timedelta(hours=n % 5)).isoformat(),
                financial_status=financial,
                fulfillment_status=FULFILLMENT[n % 3],
                cancelled_at=placed.isoformat() if n % 7 == 0 else None,
                refunded_total=REFUNDED.get(financial, "0"),
                refunds=[{"external_id": f"rf-{n}", "amount": REFUNDED[financial]}]
                if financial in REFUNDED
                else [],
                shipments=[
                    {
                        "external_id": f"f-{n}",
                        "status": shipment,
                        "tracking_numbers": [f"1Z{n}"],
                        "lines": [{"sku": "SKU-0", "quantity": 1}],
                    }
                ]
                if shipment
                else [],
                returns=[
                    {
                        "external_id": f"r-{n}",
                        "status": "received",
                        "lines": [{"sku": "SKU-0", "quantity": 1}],
                    }
                ]
                if n % 9 == 0
                else [],
                lines=[
                    {"sku": f"SKU-{k}", "name": f"Item {k}", "quantity": 1 + k, "unit_price": "8"}
                    for k in range(1 + n % 4)
                ],
            )
        )
    return orders


def replayed(orders: list[Json], seed: int) -> list[Json]:
    """Everything twice, a hundred once more, in a shuffled order."""
    rng = random.Random(seed)
    messy = orders * 2 + rng.sample(orders, 100)
    rng.shuffle(messy)
    return messy


def transitions(records: list[Any], store_id: str) -> Counter[tuple[str, str, int]]:
    events = {e["id"]: e for e in (json.loads(r.value) for r in records)}
    return Counter(
        (e["data"]["external_id"], e["type"], e["data"]["version"])
        for e in events.values()
        if e["data"]["store_id"] == store_id
    )


async def stored(app: FastAPI, store_id: str) -> list[tuple[Any, ...]]:
    runtime: PostgresRuntime = app.state.runtime
    async with runtime.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT o.external_id, o.version, o.financial_status, o.fulfillment_status,"
                " o.cancelled_at, o.updated_at, o.net_paid, o.body - 'store_id',"
                " (SELECT count(*) FROM order_lines l WHERE l.order_id = o.order_id),"
                " (SELECT count(*) FROM order_refunds r WHERE r.order_id = o.order_id),"
                " (SELECT array_agg(s.status) FROM order_shipments s"
                "   WHERE s.order_id = o.order_id),"
                " (SELECT count(*) FROM order_returns r WHERE r.order_id = o.order_id),"
                " (SELECT array_agg(m.kind || ':' || m.ref ORDER BY m.kind) FROM stock_movements m"
                "   WHERE m.order_id = o.order_id)"
                " FROM orders o WHERE o.store_id = :s ORDER BY o.external_id"
            ),
            {"s": store_id},
        )
        return [tuple(row) for row in rows]


async def count(app: FastAPI, sql: str, **params: Any) -> int:
    runtime: PostgresRuntime = app.state.runtime
    async with runtime.sessions() as session:
        return int(await session.scalar(text(sql), params) or 0)


async def test_a_messy_replay_ends_exactly_like_one_clean_pass(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    produce: Callable[..., Awaitable[None]],
    read_topic: Callable[..., Awaitable[Any]],
    eventually: Callable[..., Awaitable[Any]],
    store_id: str,
) -> None:
    clean, batched, streamed = (f"{store_id}-{name}" for name in ("clean", "batch", "kafka"))
    for store in (clean, batched, streamed):
        await register_store(client, store)
    admin = auth("admin")

    # One clean pass: every order once, in order.
    response = await client.post(
        "/v1/orders:batch", json={"orders": history(clean, make_order)}, headers=admin
    )
    assert {r["status"] for r in response.json()["results"]} == {"created"}

    # The batch API: the replay in batches of up to 1,000.
    messy = replayed(history(batched, make_order), seed=1)
    statuses: Counter[str] = Counter()
    for start in range(0, len(messy), 1000):
        response = await client.post(
            "/v1/orders:batch", json={"orders": messy[start : start + 1000]}, headers=admin
        )
        assert response.status_code == 200, response.text
        statuses.update(r["status"] for r in response.json()["results"])
    assert statuses == {"created": 1000, "unchanged": 1100}

    # shop.orders.v1: the same replay as events, some of them redelivered with their id.
    events = [
        CloudEvent[Json](source="shop/test", type="shop.order.upserted", data=order)
        for order in replayed(history(streamed, make_order), seed=2)
    ]
    redelivered = random.Random(3).sample(events, 50)
    for event in events + redelivered:
        await produce(settings.shop_orders_topic, event, key=event.data["external_id"])

    async def all_applied() -> bool:
        claimed = await count(app, "SELECT count(*) FROM processed_events")
        backlog = await count(app, "SELECT count(*) FROM outbox_events")
        return claimed == len(events) and backlog == 0

    # Every event id is claimed in the transaction that applied it, and the outbox is empty:
    # nothing more can be published for these stores.
    await eventually(all_applied, timeout=120, what="every shop event applied and relayed")

    records = await read_topic(
        settings.orders_topic,
        lambda rs: (
            sum(transitions(rs, clean).values()) >= 1000
            and sum(transitions(rs, batched).values()) >= sum(transitions(rs, clean).values())
            and sum(transitions(rs, streamed).values()) >= sum(transitions(rs, clean).values())
        ),
        timeout=90,
    )
    expected = transitions(records, clean)
    assert expected[("R-3", "crm.order.partially_refunded", 1)] == 1
    assert expected[("R-2", "crm.order.delivered", 1)] == 1  # paid, fulfilled, delivered
    assert expected[("R-9", "crm.order.returned", 1)] == 1
    assert transitions(records, batched) == expected
    assert transitions(records, streamed) == expected
    assert set(expected.values()) == {1}  # no transition published twice
    assert await stored(app, clean) == await stored(app, batched) == await stored(app, streamed)
    assert len(await stored(app, clean)) == 1000
