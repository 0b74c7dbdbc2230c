"""shop.orders.v1 consumed in batches on a real broker: one order's revisions within a batch
apply in offset order, poison is set aside, and only real transitions are announced."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from crm_common.envelope import CloudEvent
from crm_common.kafka import ensure_topics
from order_sync.config import Settings
from order_sync.main import create_app
from order_sync.orders.events import order_id_for
from prometheus_client import REGISTRY

pytestmark = pytest.mark.integration

Json = dict[str, Any]


def upserted(order: Json, event_type: str = "shop.order.upserted") -> CloudEvent[Json]:
    return CloudEvent[Json](source="shop/test", type=event_type, data=order)


async def test_revisions_in_one_batch_apply_in_offset_order_and_poison_is_set_aside(
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
    topic = settings.shop_orders_topic
    # Register the store, then stop the service so that every event below waits on the topic
    # and is taken in as few batches as the consumer's fetches allow.
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=90, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://o") as client:
            await register_store(client, store_id)
    await ensure_topics(settings.kafka_bootstrap_servers, [topic], partitions=2)

    def revision(updated_at: str, **fields: Any) -> CloudEvent[Json]:
        return upserted(
            make_order(store_id, "A", financial_status="pending", updated_at=updated_at) | fields
        )

    placed = revision("2026-11-01T10:00:00Z")
    paid = revision("2026-11-01T10:05:00Z", financial_status="paid")
    stream: list[CloudEvent[Json] | bytes] = [
        placed,
        paid,
        revision("2026-11-01T10:01:00Z"),  # older: changes nothing
        revision("2026-11-01T10:05:00Z", financial_status="paid", note="same time"),  # equal
        upserted(make_order("no-such-store", "A")),  # poison in the middle of the batch
        revision("2026-11-01T10:10:00Z", financial_status="paid", fulfillment_status="fulfilled"),
        b"{not json",
        paid,  # redelivered
        # Only the clock moved: stored, announced nowhere, and it outdates 10:15 below.
        revision("2026-11-01T10:20:00Z", financial_status="paid", fulfillment_status="fulfilled"),
        revision("2026-11-01T10:15:00Z", financial_status="refunded"),
        upserted(
            make_order(
                store_id, "B", financial_status="voided", cancelled_at="2026-11-01T11:00:00Z"
            )
        ),
    ]
    for value in stream:
        await produce(topic, value, key="same-partition")

    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=90, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://o") as client:
            order_a, order_b = order_id_for(store_id, "A"), order_id_for(store_id, "B")

            async def both_stored() -> bool:
                response = await client.get(f"/v1/orders/{order_b}", headers=auth("viewer"))
                return response.status_code == 200

            await eventually(both_stored, what="the last order stored")
            stored = (await client.get(f"/v1/orders/{order_a}", headers=auth("viewer"))).json()
            records = await read_topic(
                settings.orders_topic, lambda rs: len(order_events(rs, order_b)) >= 2
            )
            dead = await read_topic(f"{topic}.dlq", lambda rs: len(rs) >= 2)

    assert (stored["version"], stored["financial_status"]) == (3, "paid")
    assert (stored["fulfillment_status"], stored["updated_at"]) == (
        "fulfilled",
        "2026-11-01T10:20:00Z",
    )
    assert [(e["type"], e["data"]["version"]) for e in order_events(records, order_a)] == [
        ("crm.order.placed", 1),
        ("crm.order.paid", 2),
        ("crm.order.fulfilled", 3),
    ]
    assert [e["type"] for e in order_events(records, order_b)] == [
        "crm.order.placed",
        "crm.order.cancelled",
    ]
    reasons = [dict(record.headers)["x-dlq-reason"].decode() for record in dead]
    assert len(dead) == 2
    assert "no store no-such-store is registered" in reasons[0]
    assert "invalid envelope" in reasons[1]
    batches = REGISTRY.get_sample_value("crm_consumer_batch_events_count", {"topic": topic})
    records_taken = REGISTRY.get_sample_value("crm_consumer_batch_events_sum", {"topic": topic})
    assert records_taken == len(stream)
    assert batches is not None
    assert batches < len(stream)  # taken in batches, not one by one
