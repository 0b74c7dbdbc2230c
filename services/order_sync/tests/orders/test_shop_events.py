"""shop.orders.v1 on a real broker: applied like the API, poison to the DLQ, duplicates absorbed."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from crm_common.envelope import CloudEvent
from crm_common.runtime import PostgresRuntime
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.orders.events import order_id_for
from sqlalchemy import text

pytestmark = pytest.mark.integration

Json = dict[str, Any]
SubmitOrders = Callable[..., Awaitable[int | None]]


def upserted(order: Json, event_type: str = "shop.order.upserted") -> CloudEvent[Json]:
    return CloudEvent[Json](source="shop/test", type=event_type, data=order)


def stored_version(
    client: httpx.AsyncClient, headers: dict[str, str], order_id: str, version: int = 1
) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        response = await client.get(f"/v1/orders/{order_id}", headers=headers)
        return response.status_code == 200 and response.json()["version"] >= version

    return probe


async def test_an_event_is_stored_and_announced_like_a_post(
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    produce: Callable[..., Awaitable[None]],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    eventually: Callable[..., Awaitable[Any]],
    store_id: str,
    submit_order: SubmitOrders,
) -> None:
    await register_store(client, store_id)
    order = make_order(store_id, "A-1", financial_status="pending", extra_field=[1, 2])
    order_id = order_id_for(store_id, "A-1")

    await produce(settings.shop_orders_topic, upserted(order), key="A-1")

    await eventually(stored_version(client, auth("viewer"), order_id), what="order stored")
    stored = (await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))).json()
    assert stored["extra_field"] == [1, 2]
    assert stored["financial_status"] == "pending"
    records = await read_topic(settings.orders_topic, lambda rs: bool(order_events(rs, order_id)))
    assert [e["type"] for e in order_events(records, order_id)] == ["crm.order.placed"]
    # The same order through the API afterwards is recognised as the one already stored.
    assert await submit_order(client, order) == 1


async def test_poison_events_are_dead_lettered_and_the_partition_moves_on(
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
    await register_store(client, store_id)
    topic = settings.shop_orders_topic
    # One key, so all of them share a partition and the good event queues behind the bad ones.
    poison: list[tuple[bytes | CloudEvent[Json], str]] = [
        (b"{this is not json", "invalid envelope"),
        (upserted(make_order(store_id), "shop.order.deleted"), "expected shop.order.upserted"),
        (upserted(make_order(store_id, total=12.5)), "total"),
        (upserted(make_order("no-such-store")), "no store no-such-store is registered"),
    ]
    for value, _ in poison:
        await produce(topic, value, key="K")
    await produce(topic, upserted(make_order(store_id, "GOOD")), key="K")

    order_id = order_id_for(store_id, "GOOD")
    await eventually(stored_version(client, auth("viewer"), order_id), what="good order stored")
    dead = await read_topic(f"{topic}.dlq", lambda rs: len(rs) >= len(poison))
    assert len(dead) == len(poison)
    for record, (value, reason) in zip(dead, poison, strict=True):
        headers = {name: raw.decode() for name, raw in record.headers}
        assert reason in headers["x-dlq-reason"]
        assert headers["x-dlq-source-topic"] == topic
        assert record.key == b"K"
        if isinstance(value, bytes):
            assert record.value == value
        else:
            assert CloudEvent[Json].model_validate_json(record.value).id == value.id
    missing = await client.get(
        f"/v1/orders/{order_id_for('no-such-store', '1001')}", headers=auth("viewer")
    )
    assert missing.status_code == 404


async def test_a_duplicate_event_changes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    produce: Callable[..., Awaitable[None]],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    eventually: Callable[..., Awaitable[Any]],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    order = make_order(store_id, "D-1", financial_status="pending")
    event = upserted(order)
    newer = {**order, "note": "v2", "updated_at": "2026-11-02T00:00:00Z"}

    await produce(settings.shop_orders_topic, event, key="D-1")
    await produce(settings.shop_orders_topic, event, key="D-1")  # redelivered: same id
    await produce(settings.shop_orders_topic, upserted(order), key="D-1")  # re-sent: new id
    # A real change last, as a barrier: once it is stored, every earlier event was handled.
    await produce(settings.shop_orders_topic, upserted(newer), key="D-1")

    order_id = order_id_for(store_id, "D-1")
    await eventually(stored_version(client, auth("viewer"), order_id, 2), what="version 2")
    records = await read_topic(
        settings.orders_topic,
        lambda rs: any(e["data"]["version"] == 2 for e in order_events(rs, order_id)),
    )
    assert [(e["type"], e["data"]["version"]) for e in order_events(records, order_id)] == [
        ("crm.order.placed", 1),
        ("crm.order.updated", 2),
    ]
    runtime: PostgresRuntime = app.state.runtime
    async with runtime.sessions() as session:
        claimed = await session.scalar(
            text("SELECT count(*) FROM processed_events WHERE event_id = :id"), {"id": event.id}
        )
    assert claimed == 1
