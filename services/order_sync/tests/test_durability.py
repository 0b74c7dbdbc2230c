"""What the HTTP doors accepted survives the process: an order or a delivery answered before
anything applied it is applied by the next process that starts."""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.main import create_app
from order_sync.orders.events import order_id_for
from order_sync.webhooks import signatures
from sqlalchemy import text

pytestmark = pytest.mark.integration

Json = dict[str, Any]
Auth = Callable[..., dict[str, str]]
SECRET = "shpss_durable"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


async def _scalar(app: FastAPI, sql: str, **params: Any) -> Any:
    async with app.state.runtime.sessions() as session:
        return await session.scalar(text(sql), params)


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://o")


async def test_an_accepted_order_is_applied_by_the_next_process(
    settings: Settings,
    auth: Auth,
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    eventually: Callable[..., Awaitable[Any]],
    store_id: str,
) -> None:
    order = make_order(store_id, "D-1")
    order_id = order_id_for(store_id, "D-1")
    first = create_app(settings)
    async with LifespanManager(first, startup_timeout=90, shutdown_timeout=30):
        async with _client(first) as client:
            await register_store(client, store_id)
            # The process goes away right after answering: nothing of it consumes any more.
            for subscriber in first.state.runtime.broker.subscribers:
                await subscriber.stop()
            response = await client.post("/v1/orders", json=order, headers=auth("admin"))
        assert response.status_code == 202, response.text
        assert response.json() == {"order_id": order_id, "status": "accepted"}
        assert await _scalar(first, "SELECT count(*) FROM orders") == 0

    second = create_app(settings)
    async with LifespanManager(second, startup_timeout=90, shutdown_timeout=30):

        async def stored() -> bool:
            version = "SELECT version FROM orders WHERE order_id = :o"
            return await _scalar(second, version, o=order_id) == 1

        await eventually(stored, what="the accepted order applied after the restart")
        changed_via = "SELECT changed_via FROM orders WHERE order_id = :o"
        assert await _scalar(second, changed_via, o=order_id) == "rest"
    records = await read_topic(settings.orders_topic, lambda rs: bool(order_events(rs, order_id)))
    assert order_events(records, order_id)[0]["type"] == "crm.order.placed"


async def test_a_received_delivery_is_applied_by_the_next_process_and_only_once(
    settings: Settings,
    register_store: Callable[..., Awaitable[httpx.Response]],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    eventually: Callable[..., Awaitable[Any]],
    store_id: str,
) -> None:
    body = (FIXTURES / "shopify" / "orders_create.json").read_bytes()
    order_id = order_id_for(store_id, "820982911946154500")
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "wh-durable",
        "X-Shopify-Hmac-Sha256": signatures.sign(signatures.shopify_key(SECRET), body),
    }
    url = f"/v1/webhooks/shopify/{store_id}"
    first = create_app(settings)
    async with LifespanManager(first, startup_timeout=90, shutdown_timeout=30):
        async with _client(first) as client:
            await register_store(client, store_id, platform="shopify", webhook_secret=SECRET)
            # The process goes away right after answering, before applying what it stored.
            await first.state.webhook_applier.periodic.stop()
            response = await client.post(url, content=body, headers=headers)
            retried = await client.post(url, content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "received"
        # Shopify's retry of a delivery still waiting is answered, not stored for applying.
        assert (retried.status_code, retried.json()["outcome"]) == (200, "duplicate")
        assert await _scalar(first, "SELECT count(*) FROM orders") == 0

    second = create_app(settings)
    async with LifespanManager(second, startup_timeout=90, shutdown_timeout=30):
        delivery = response.json()["delivery"]

        async def applied() -> bool:
            outcome = "SELECT outcome FROM webhook_deliveries WHERE id = :d"
            return await _scalar(second, outcome, d=delivery) == "applied"

        await eventually(applied, what="the received delivery applied after the restart")
        assert (
            await _scalar(second, "SELECT version FROM orders WHERE order_id = :o", o=order_id) == 1
        )
        async with _client(second) as client:
            again = await client.post(url, content=body, headers=headers)
        assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    records = await read_topic(
        settings.orders_topic, lambda rs: len(order_events(rs, order_id)) >= 2
    )
    # The sample is a voided, cancelled order: placed and cancelled in one change, announced once.
    events = [e["type"] for e in order_events(records, order_id)]
    assert events == ["crm.order.placed", "crm.order.cancelled"]
