"""Carts and checkouts on real PostgreSQL and Kafka: shop.activity.v1 in, crm.carts.v1 out,
abandoned checkouts announced once (with the short timeout of this package's settings)."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_events.registry import CONTRACTS
from crm_events.shop_activity import ShopCheckout
from fastapi import FastAPI
from order_sync.carts import service
from order_sync.carts.events import checkout_id_for
from order_sync.carts.sweeper import AbandonmentSweeper
from order_sync.config import Settings
from sqlalchemy import text

pytestmark = pytest.mark.integration

Json = dict[str, Any]
Produce = Callable[..., Awaitable[None]]
ReadTopic = Callable[..., Awaitable[list[Any]]]
Poll = Callable[..., Awaitable[Any]]


def activity(event_type: str, data: Json, *, event_id: str | None = None) -> CloudEvent[Json]:
    extra = {"id": event_id} if event_id else {}
    return CloudEvent[Json](source="shop/test", type=event_type, data=data, **extra)


def cart(store_id: str, updated_at: str, quantity: int, **fields: Any) -> Json:
    return {
        "store_id": store_id,
        "cart_id": "cart-77",
        "customer": {"email": "Ann@Example.com"},
        "lines": [{"sku": "MUG-1", "name": "Mug", "quantity": quantity, "unit_price": "12.50"}],
        "currency": "usd",
        "total": f"{12.5 * quantity:.2f}",
        "updated_at": updated_at,
        **fields,
    }


def checkout(store_id: str, checkout_id: str, started_at: datetime, email: str) -> Json:
    return {
        "store_id": store_id,
        "checkout_id": checkout_id,
        "cart_id": f"cart-of-{checkout_id}",
        "customer": {"email": email, "phone": "+1 415 555 0100"},
        "lines": [{"sku": "MUG-1", "name": "Mug", "quantity": 1, "unit_price": "12.50"}],
        "currency": "USD",
        "total": "12.50",
        "started_at": started_at.isoformat(),
        "recovery_url": f"https://shop.example/checkouts/{checkout_id}/recover",
    }


def decoded(records: list[Any]) -> list[Json]:
    return [json.loads(record.value) for record in records if record.value is not None]


def of_type(records: list[Any], event_type: str) -> list[Json]:
    return [event for event in decoded(records) if event["type"] == event_type]


async def states(app: FastAPI) -> dict[str, str]:
    async with app.state.runtime.sessions() as session:
        rows = await session.execute(text("SELECT external_id, state FROM checkouts"))
        return {row.external_id: row.state for row in rows}


async def outbox_empty(app: FastAPI) -> bool:
    async with app.state.runtime.sessions() as session:
        return await session.scalar(text("SELECT count(*) FROM outbox_events")) == 0


async def test_carts_apply_once_newest_first_and_bad_events_are_dead_lettered(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    register_store: Callable[..., Awaitable[httpx.Response]],
    produce: Produce,
    read_topic: ReadTopic,
    store_id: str,
) -> None:
    await register_store(client, store_id)
    newer = activity("shop.cart.updated", cart(store_id, "2026-11-01T10:00:00Z", 2))
    invalid = cart(store_id, "2026-11-01T10:30:00Z", 1)
    invalid["total"] = 12.5
    stream = [
        newer,
        activity("shop.cart.updated", cart(store_id, "2026-11-01T09:00:00Z", 9)),  # older
        newer,  # redelivered
        activity(
            "shop.product.viewed",
            {"store_id": store_id, "product_id": "p-7", "viewed_at": "2026-11-01T10:01:00Z"},
        ),
        activity("shop.cart.updated", invalid),
        activity("shop.cart.updated", cart("no-such-store", "2026-11-01T10:40:00Z", 1)),
        activity("shop.cart.updated", cart(store_id, "2026-11-01T11:00:00Z", 3)),
    ]
    for event in stream:
        await produce(settings.activity_topic, event, key="cart-77")

    records = await read_topic(
        settings.carts_topic, lambda rs: len(of_type(rs, "crm.cart.updated")) >= 2
    )
    parked = await read_topic(settings.activity_topic + ".dlq", lambda rs: len(rs) >= 2)

    updates = of_type(records, "crm.cart.updated")
    assert [(e["data"]["version"], e["data"]["lines"][0]["quantity"]) for e in updates] == [
        (1, 2),
        (2, 3),
    ]
    for record, event in zip(records, updates, strict=True):
        CONTRACTS.validate(event)
        assert record.key == event["data"]["cart_id"].encode() == event["subject"].encode()
        assert event["data"]["external_id"] == "cart-77"
        assert event["data"]["currency"] == "USD"
    reasons = [dict(record.headers)["x-dlq-reason"].decode() for record in parked]
    assert "total" in reasons[0]
    assert "no-such-store is not registered" in reasons[1]


async def test_a_checkout_no_order_follows_is_announced_abandoned_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    register_store: Callable[..., Awaitable[httpx.Response]],
    produce: Produce,
    read_topic: ReadTopic,
    eventually: Poll,
    store_id: str,
) -> None:
    await register_store(client, store_id)
    started = datetime.now(UTC) - timedelta(minutes=5)
    data = checkout(store_id, "k-1", started, "ann@example.com")
    await produce(settings.activity_topic, activity("shop.checkout.started", data), key="k-1")

    records = await read_topic(
        settings.carts_topic, lambda rs: len(of_type(rs, "crm.checkout.abandoned")) >= 1
    )
    # More sweeps find nothing left to decide.
    assert (await app.state.checkout_sweeper.sweep()).seen == 0
    await eventually(lambda: outbox_empty(app), what="outbox drained")
    records = await read_topic(
        settings.carts_topic, lambda rs: len(of_type(rs, "crm.checkout.abandoned")) >= 1
    )

    events = decoded(records)
    assert [e["type"] for e in events] == ["crm.checkout.started", "crm.checkout.abandoned"]
    for event in events:
        CONTRACTS.validate(event)
        assert event["subject"] == checkout_id_for(store_id, "k-1")
    abandoned = events[1]["data"]
    assert abandoned["external_id"] == "k-1"
    assert abandoned["cart_external_id"] == "cart-of-k-1"
    assert abandoned["recovery_url"] == "https://shop.example/checkouts/k-1/recover"
    assert abandoned["customer"]["email"] == "ann@example.com"
    assert datetime.fromisoformat(abandoned["abandoned_at"]) > started
    assert await states(app) == {"k-1": "abandoned"}


async def test_a_checkout_an_order_followed_is_never_announced_abandoned(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    produce: Produce,
    read_topic: ReadTopic,
    eventually: Poll,
    store_id: str,
) -> None:
    await register_store(client, store_id)
    placed = datetime(2026, 11, 1, 10, tzinfo=UTC)  # make_order's placed_at
    orders = [
        make_order(store_id, "7001", checkout_id="k-own", customer={"email": "x@example.com"}),
        make_order(store_id, "7002", customer={"email": "Bea@Example.com"}),
    ]
    for order in orders:
        response = await client.post("/v1/orders", json=order, headers=auth("admin"))
        assert response.status_code == 202, response.text
    checkouts = [
        # Named by the first order, whoever placed it.
        checkout(store_id, "k-own", placed - timedelta(minutes=10), "nobody@example.com"),
        # The same customer ordered after it started.
        checkout(store_id, "k-email", placed - timedelta(minutes=15), "bea@example.com"),
        # The same customer's order came before it started: no order followed it.
        checkout(store_id, "k-later", placed + timedelta(minutes=30), "bea@example.com"),
    ]
    for data in checkouts:
        event = activity("shop.checkout.started", data)
        await produce(settings.activity_topic, event, key=data["checkout_id"])

    async def decided() -> dict[str, str] | None:
        now = await states(app)
        return now if len(now) == 3 and "open" not in now.values() else None

    assert await eventually(decided, what="every checkout decided") == {
        "k-own": "converted",
        "k-email": "converted",
        "k-later": "abandoned",
    }
    await eventually(lambda: outbox_empty(app), what="outbox drained")
    records = await read_topic(
        settings.carts_topic,
        lambda rs: (
            len(of_type(rs, "crm.checkout.started")) >= 3
            and len(of_type(rs, "crm.checkout.abandoned")) >= 1
        ),
    )
    abandoned = of_type(records, "crm.checkout.abandoned")
    assert [e["data"]["external_id"] for e in abandoned] == ["k-later"]


async def test_replicas_sweeping_together_announce_each_checkout_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    register_store: Callable[..., Awaitable[httpx.Response]],
    read_topic: ReadTopic,
    eventually: Poll,
    store_id: str,
) -> None:
    await register_store(client, store_id)
    sessions = app.state.runtime.sessions
    started = datetime.now(UTC) - timedelta(hours=2)
    async with transaction(sessions) as session:
        for n in range(30):
            data = ShopCheckout.model_validate(checkout(store_id, f"r-{n}", started, "a@b.co"))
            await service.record_checkout(
                session=session, checkout=data, topic=settings.carts_topic
            )
    # Two more replicas' sweepers, beside the app's own, in small batches.
    replicas = [
        AbandonmentSweeper(
            sessions,
            topic=settings.carts_topic,
            abandon_after=timedelta(seconds=settings.checkout_abandon_after_seconds),
            interval=60,
            batch_size=3,
        )
        for _ in range(2)
    ]

    async def all_decided() -> bool:
        await asyncio.gather(*(replica.sweep() for replica in replicas))
        return "open" not in (await states(app)).values()

    await eventually(all_decided, what="every checkout decided")
    await eventually(lambda: outbox_empty(app), what="outbox drained")
    records = await read_topic(settings.carts_topic, lambda rs: len(decoded(rs)) >= 60)

    abandoned = [e["subject"] for e in of_type(records, "crm.checkout.abandoned")]
    assert len(abandoned) == 30
    assert len(set(abandoned)) == 30
