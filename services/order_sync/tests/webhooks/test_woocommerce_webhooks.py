"""POST /v1/webhooks/woocommerce/{store_id} on real PostgreSQL and Kafka."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.orders.events import order_id_for

pytestmark = pytest.mark.integration

SECRET = "wc-&amp;-secret"  # WooCommerce signs with it entity-decoded: "wc-&-secret"

Json = dict[str, Any]
Final = Callable[[httpx.Response], Awaitable[Json]]
Post = Callable[..., Awaitable[httpx.Response]]


async def test_the_ping_sent_when_a_webhook_is_created_answers_200(
    app: FastAPI,
    client: httpx.AsyncClient,
    register_store: Callable[..., Awaitable[httpx.Response]],
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="woocommerce", webhook_secret=SECRET)

    # As WooCommerce's deliver_ping() sends it: no topic, no signature, a form body.
    response = await client.post(
        f"/v1/webhooks/woocommerce/{store_id}",
        content=b"webhook_id=12",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "WooCommerce/8.0.2 Hookshot (WordPress/6.3)",
        },
    )
    unsigned_order = await client.post(
        f"/v1/webhooks/woocommerce/{store_id}",
        content=b'{"id": 1}',
        headers={"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Delivery-ID": "d"},
    )

    assert response.status_code == 200, response.text  # anything else fails the webhook
    assert (await final(response))["outcome"] == "ignored"
    assert unsigned_order.status_code == 401
    kept = await stored_deliveries(app, store_id)
    assert [(d["outcome"], d["detail"]) for d in kept] == [
        ("ignored", "webhook ping"),
        ("rejected", "the x-wc-webhook-signature signature is missing"),
    ]
    assert bytes(kept[0]["body"]) == b"webhook_id=12"


async def test_an_order_is_created_updated_deleted_and_restored_never_losing_history(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_woocommerce: Post,
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="woocommerce", webhook_secret=SECRET)
    order_id = order_id_for(store_id, "727")
    created = fixture_bytes("woocommerce/order_created_docs_v3")
    updated = fixture_bytes("woocommerce/order_updated_docs_v3")

    async def post(body: bytes, topic: str, delivery_id: str) -> httpx.Response:
        return await post_woocommerce(
            client, store_id, body, secret="wc-&-secret", topic=topic, delivery_id=delivery_id
        )

    async def read() -> Json:
        return dict((await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))).json())

    first = await post(created, "order.created", "same-second")
    # WooCommerce gives every delivery of one webhook within one second the same id.
    second = await post(updated, "order.updated", "same-second")
    repeat = await post(updated, "order.updated", "same-second")

    assert [(await final(r))["outcome"] for r in (first, second, repeat)] == [
        "applied",
        "applied",
        "duplicate",
    ]
    completed = await read()
    assert (completed["version"], completed["fulfillment_status"]) == (2, "fulfilled")

    deleted = await post(b'{"id":727}', "order.deleted", "d-del")
    assert deleted.status_code == 200, deleted.text
    assert (await final(deleted))["outcome"] == "applied"
    cancelled = await read()
    assert cancelled["version"] == 3
    assert cancelled["cancelled_at"] is not None
    moved = {"version", "cancelled_at", "updated_at"}
    assert {k: v for k, v in cancelled.items() if k not in moved} == {
        k: v for k, v in completed.items() if k not in moved
    }

    restored = await post(updated, "order.restored", "d-res")
    assert (await final(restored))["outcome"] == "applied", restored.text
    back = await read()
    assert (back["version"], back["cancelled_at"]) == (4, None)

    records = await read_topic(
        settings.orders_topic, lambda rs: len(order_events(rs, order_id)) >= 5
    )
    assert [e["type"] for e in order_events(records, order_id)] == [
        "crm.order.placed",
        "crm.order.paid",
        "crm.order.fulfilled",
        "crm.order.cancelled",
        "crm.order.updated",
    ]
    assert [d["outcome"] for d in await stored_deliveries(app, store_id)] == [
        "applied",
        "applied",
        "duplicate",
        "applied",
        "applied",
    ]


async def test_deletions_of_unknown_orders_and_of_customers_are_ignored(
    app: FastAPI,
    client: httpx.AsyncClient,
    register_store: Callable[..., Awaitable[httpx.Response]],
    post_woocommerce: Post,
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    count_orders: Callable[..., Awaitable[int]],
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="woocommerce", webhook_secret="k")
    customer = json.dumps({"id": 25}).encode()

    unknown = await post_woocommerce(
        client, store_id, b'{"id":999}', secret="k", topic="order.deleted", delivery_id="a"
    )
    customers = await post_woocommerce(
        client, store_id, customer, secret="k", topic="customer.deleted", delivery_id="b"
    )

    # A deleted order is looked up behind the answer; a deleted customer needs no look-up.
    assert (unknown.status_code, customers.status_code) == (200, 202)
    assert (await final(unknown))["outcome"] == "ignored"
    assert "never stored" in (await final(unknown))["detail"]
    assert "no erasure request" in (await final(customers))["detail"]
    assert await count_orders(app, store_id) == 0
    assert [d["outcome"] for d in await stored_deliveries(app, store_id)] == ["ignored"] * 2
