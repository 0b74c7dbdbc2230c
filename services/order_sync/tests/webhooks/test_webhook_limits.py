"""A Shopify order whose events could never be published: not stored, its delivery kept failed."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

Rows = Callable[..., Awaitable[list[tuple[Any, ...]]]]
Json = dict[str, Any]
Final = Callable[[httpx.Response], Awaitable[Json]]


async def test_an_oversized_shopify_order_is_kept_failed(
    client: httpx.AsyncClient,
    register_store: Callable[..., Awaitable[httpx.Response]],
    post_shopify: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    db_rows: Rows,
    store_id: str,
    final: Final,
    failed_fields: Callable[[Json], list[str]],
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

    assert response.status_code == 200, response.text
    refused = await final(response)
    # One problem, on the field that takes most of the events (its message names the sizes).
    assert (refused["outcome"], failed_fields(refused)[0]) == ("failed", "canonical.lines")
    kept = await db_rows(
        "SELECT outcome, length(body) FROM webhook_deliveries WHERE store_id = :s", s=store_id
    )
    assert kept == [("failed", len(body))]
    assert await db_rows("SELECT order_id FROM orders") == []
