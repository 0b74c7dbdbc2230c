"""A Shopify order whose events could never be published: refused, its delivery kept failed."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

Rows = Callable[..., Awaitable[list[tuple[Any, ...]]]]


async def test_an_oversized_shopify_order_is_422_and_its_delivery_kept_failed(
    client: httpx.AsyncClient,
    register_store: Callable[..., Awaitable[httpx.Response]],
    post_shopify: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    db_rows: Rows,
    store_id: str,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    payload = json.loads(fixture_bytes("shopify/orders_create"))
    item = payload["line_items"][0]
    payload["line_items"] = [
        {**item, "id": n, "title": f"{n:05d}".ljust(1000, "x"), "name": None}
        for n in range(1, 1001)
    ]
    body = json.dumps(payload).encode()

    response = await post_shopify(client, store_id, body, secret="k", webhook_id="big-1")

    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["canonical.lines"]
    kept = await db_rows(
        "SELECT outcome, length(body) FROM webhook_deliveries WHERE store_id = :s", s=store_id
    )
    assert kept == [("failed", len(body))]
    assert await db_rows("SELECT order_id FROM orders") == []
