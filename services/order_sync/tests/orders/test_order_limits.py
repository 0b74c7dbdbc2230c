"""Orders whose events could never be published are refused at every door, nothing stored."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from crm_common.envelope import CloudEvent
from crm_common.kafka import PermanentEventError
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.orders.consumers import shop_orders_handler
from order_sync.orders.events import MAX_EVENT_BYTES, order_id_for
from order_sync.orders.validation import MAX_LINES

pytestmark = pytest.mark.integration

Json = dict[str, Any]
Eventually = Callable[..., Awaitable[Any]]
Rows = Callable[..., Awaitable[list[tuple[Any, ...]]]]


def many_lines(count: int, *, name_length: int = 150) -> list[Json]:
    return [
        {"sku": f"S-{n}", "name": f"{n:05d}".ljust(name_length, "x"), "quantity": 1,
         "unit_price": "1.00"}
        for n in range(count)
    ]  # fmt: skip


@pytest.fixture
def oversized(make_order: Callable[..., Json]) -> Callable[..., Json]:
    """An order under 1 MiB as JSON whose snapshot (lines with all their fields) is not."""

    def make(store_id: str, external_id: str = "BIG", **overrides: Any) -> Json:
        order = make_order(store_id, external_id, lines=many_lines(4000), **overrides)
        assert len(json.dumps(order)) < 1024 * 1024
        return order

    return make


async def test_an_order_whose_events_cannot_be_published_is_422_naming_lines(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    oversized: Callable[..., Json],
    db_rows: Rows,
    store_id: str,
) -> None:
    await register_store(client, store_id)

    response = await client.post("/v1/orders", json=oversized(store_id), headers=auth("admin"))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["field"] == "lines"
    assert f"more than the {MAX_EVENT_BYTES}" in error["message"]
    assert await db_rows("SELECT order_id FROM orders") == []
    assert await db_rows("SELECT event_id FROM outbox_events") == []


async def test_more_lines_than_an_order_may_have_are_422(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    order = make_order(store_id, lines=many_lines(MAX_LINES + 1, name_length=1))

    response = await client.post("/v1/orders", json=order, headers=auth("admin"))

    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["lines"]


async def test_a_batch_refuses_only_the_item_that_cannot_be_published(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    oversized: Callable[..., Json],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    # The oversized item is a newer revision of the first: refused, the first one stays.
    items = [
        make_order(store_id, "A"),
        oversized(store_id, "A", updated_at="2026-11-02T00:00:00Z"),
        make_order(store_id, "B"),
    ]

    response = await client.post("/v1/orders:batch", json={"orders": items}, headers=auth("admin"))

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "rejected", "created"]
    assert [e["field"] for e in results[1]["errors"]] == ["lines"]
    stored = await client.get(f"/v1/orders/{order_id_for(store_id, 'A')}", headers=auth("viewer"))
    assert (stored.json()["version"], len(stored.json()["lines"])) == (1, 1)


async def test_an_oversized_shop_order_event_is_rejected_for_the_dead_letter_topic(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    register_store: Callable[..., Awaitable[httpx.Response]],
    oversized: Callable[..., Json],
    make_order: Callable[..., Json],
    db_rows: Rows,
    store_id: str,
) -> None:
    await register_store(client, store_id)
    handle = shop_orders_handler(app.state.runtime.sessions, topic=settings.orders_topic)
    events = [
        CloudEvent[dict[str, Any]](source="shop/test", type="shop.order.upserted", data=data)
        for data in (oversized(store_id), make_order(store_id, "SMALL"))
    ]

    rejected = await handle(events)

    assert list(rejected) == [0]
    assert isinstance(rejected[0], PermanentEventError)
    assert str(rejected[0]).startswith("lines: ")
    assert await db_rows("SELECT external_id FROM orders") == [("SMALL",)]
    # Not claimed as processed: once re-driven after a fix, it is applied.
    claimed = await db_rows("SELECT event_id FROM processed_events")
    assert claimed == [(events[1].id,)]


async def test_an_import_reports_the_oversized_order_as_a_row_error(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    oversized: Callable[..., Json],
    eventually: Eventually,
    store_id: str,
) -> None:
    await register_store(client, store_id)
    rows = [make_order(store_id, "I-1"), oversized(store_id, "I-2"), make_order(store_id, "I-3")]
    body = b"".join(json.dumps(row).encode() + b"\n" for row in rows)

    response = await client.post(
        "/v1/imports",
        params={"store_id": store_id},
        content=body,
        headers={**auth("admin"), "content-type": "application/x-ndjson"},
    )

    assert response.status_code == 202, response.text
    url = response.headers["location"]

    async def probe() -> Json | None:
        job: Json = (await client.get(url, headers=auth("viewer"))).json()
        return job if job["status"] in ("completed", "failed") else None

    job = await eventually(probe, timeout=90, what="the import finished")
    assert (job["status"], job["orders_created"], job["orders_rejected"]) == ("completed", 2, 1)
    assert [(e["row"], e["field"]) for e in job["errors"]] == [(2, "lines")]
