"""Helpers for the webhook tests: fixture bodies, signed deliveries, the stored deliveries."""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from crm_common.runtime import PostgresRuntime
from fastapi import FastAPI
from order_sync.webhooks import signatures
from sqlalchemy import text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHOPIFY_SECRET = "shpss_webhooks"

Post = Callable[..., Awaitable[httpx.Response]]
Settle = Callable[[int], Awaitable[dict[str, Any]]]
Final = Callable[[httpx.Response], Awaitable[dict[str, Any]]]


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    """The bytes of `platform/name.json` under tests/fixtures/."""
    return lambda name: (FIXTURES / f"{name}.json").read_bytes()


@pytest.fixture
def post_shopify() -> Post:
    """POST `body` to the Shopify receiver, signed with `secret` unless `signature` is given."""

    async def post(
        client: httpx.AsyncClient,
        store_id: str,
        body: bytes,
        *,
        secret: str | None,
        topic: str = "orders/create",
        webhook_id: str = "wh-1",
        signature: str | None = None,
    ) -> httpx.Response:
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Shop-Domain": "example.myshopify.com",
            "X-Shopify-API-Version": "2025-01",
        }
        if signature is None and secret is not None:
            signature = signatures.sign(signatures.shopify_key(secret), body)
        if signature is not None:
            headers["X-Shopify-Hmac-Sha256"] = signature
        return await client.post(f"/v1/webhooks/shopify/{store_id}", content=body, headers=headers)

    return post


@dataclass(frozen=True)
class ShopifyStore:
    """A registered Shopify store, taking deliveries signed with its webhook secret."""

    client: httpx.AsyncClient
    store_id: str
    secret: str
    post: Post
    settle: Settle

    async def send(
        self, topic: str, payload: dict[str, Any] | bytes, webhook_id: str
    ) -> httpx.Response:
        """Deliver `payload` (a JSON object, or bytes sent as they are) to the store's receiver."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return await self.post(
            self.client, self.store_id, body, secret=self.secret, topic=topic, webhook_id=webhook_id
        )

    async def receipt(
        self, topic: str, payload: dict[str, Any] | bytes, webhook_id: str
    ) -> dict[str, Any]:
        """Send, expecting 200, and return what became of the delivery once applied."""
        response = await self.send(topic, payload, webhook_id)
        assert response.status_code == 200, response.text
        receipt: dict[str, Any] = response.json()
        if receipt["outcome"] == "received":
            return await self.settle(receipt["delivery"])
        return receipt

    async def outcome(self, topic: str, payload: dict[str, Any] | bytes, webhook_id: str) -> str:
        """Send, expecting 200, and return the receipt's outcome."""
        outcome: str = (await self.receipt(topic, payload, webhook_id))["outcome"]
        return outcome


@pytest.fixture
async def shopify_store(
    client: httpx.AsyncClient,
    store_id: str,
    register_store: Callable[..., Awaitable[httpx.Response]],
    post_shopify: Post,
    settled: Settle,
) -> ShopifyStore:
    """A Shopify store registered as `store_id` with a webhook secret."""
    await register_store(client, store_id, platform="shopify", webhook_secret=SHOPIFY_SECRET)
    return ShopifyStore(client, store_id, SHOPIFY_SECRET, post_shopify, settled)


@pytest.fixture
def final(settled: Settle) -> Final:
    """What became of an answered delivery: its receipt, or once a `received` one was applied
    behind its answer, its outcome as stored (the receipt's fields)."""

    async def outcome(response: httpx.Response) -> dict[str, Any]:
        receipt: dict[str, Any] = response.json()
        if response.status_code == 200 and receipt["outcome"] == "received":
            return await settled(receipt["delivery"])
        return receipt

    return outcome


@pytest.fixture
def failed_fields() -> Callable[[dict[str, Any]], list[str]]:
    """The fields at fault named by a failed delivery's detail (`field: message; ...`)."""
    return lambda outcome: [part.split(": ", 1)[0] for part in outcome["detail"].split("; ")]


@pytest.fixture
def post_woocommerce() -> Post:
    """POST `body` to the WooCommerce receiver as WooCommerce delivers it, signed with `secret`."""

    async def post(
        client: httpx.AsyncClient,
        store_id: str,
        body: bytes,
        *,
        secret: str,
        topic: str,
        delivery_id: str,
    ) -> httpx.Response:
        resource, _, event = topic.partition(".")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/8.0.2 Hookshot (WordPress/6.3)",
            "X-WC-Webhook-Source": "https://shop.example/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": signatures.sign(signatures.woocommerce_key(secret), body),
            "X-WC-Webhook-ID": "12",
            "X-WC-Webhook-Delivery-ID": delivery_id,
        }
        return await client.post(
            f"/v1/webhooks/woocommerce/{store_id}", content=body, headers=headers
        )

    return post


@pytest.fixture
def stored_deliveries() -> Callable[[FastAPI, str], Awaitable[list[dict[str, Any]]]]:
    """The deliveries kept for `store_id`, oldest first."""

    async def read(app: FastAPI, store_id: str) -> list[dict[str, Any]]:
        runtime: PostgresRuntime = app.state.runtime
        async with runtime.sessions() as session:
            rows = await session.execute(
                text("SELECT * FROM webhook_deliveries WHERE store_id = :s ORDER BY id"),
                {"s": store_id},
            )
            return [dict(row) for row in rows.mappings()]

    return read


@pytest.fixture
def count_orders() -> Callable[[FastAPI, str], Awaitable[int]]:
    async def count(app: FastAPI, store_id: str) -> int:
        runtime: PostgresRuntime = app.state.runtime
        async with runtime.sessions() as session:
            found = await session.scalar(
                text("SELECT count(*) FROM orders WHERE store_id = :s"), {"s": store_id}
            )
            return int(found or 0)

    return count
