"""Shopify `refunds/create` and `fulfillments/*` merged into their order, on real PostgreSQL and
Kafka: shipments travel and arrive, a refund returns goods to stock, and nothing goes backwards."""

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from crm_events.registry import CONTRACTS
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.orders.events import order_id_for

if TYPE_CHECKING:
    from services.order_sync.tests.webhooks.conftest import ShopifyStore

pytestmark = pytest.mark.integration

Json = dict[str, Any]
Final = Callable[[httpx.Response], Awaitable[Json]]
Rows = Callable[..., Awaitable[list[tuple[Any, ...]]]]
SHOPIFY_ORDER = "820982911946154500"  # as the docs' payloads write it (rounded upstream)


def paid_order(fixture_bytes: Callable[[str], bytes]) -> Json:
    """The documented order, paid and not cancelled (the docs' sample is voided)."""
    order: Json = json.loads(fixture_bytes("shopify/orders_create"))
    order.update(financial_status="paid", cancelled_at=None, cancel_reason=None)
    return order


async def stock(store: "ShopifyStore", headers: dict[str, str]) -> int:
    """How many IPOD2008PINK the store has on hand."""
    url = f"/v1/inventory/IPOD2008PINK?store_id={store.store_id}"
    quantity: int = (await store.client.get(url, headers=headers)).json()["quantity"]
    return quantity


async def test_a_shipment_is_delivered_and_a_refund_returns_goods_to_stock(
    db_rows: Rows,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    fixture_bytes: Callable[[str], bytes],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    shopify_store: "ShopifyStore",
    store_id: str,
) -> None:
    admin, viewer = auth("admin"), auth("viewer")
    put = await client.put(
        f"/v1/inventory/IPOD2008PINK?store_id={store_id}", json={"quantity": 10}, headers=admin
    )
    assert put.status_code == 200, put.text
    order_id = order_id_for(store_id, SHOPIFY_ORDER)

    order = paid_order(fixture_bytes)
    assert await shopify_store.outcome("orders/create", order, "o-1") == "applied"
    assert await stock(shopify_store, viewer) == 8  # both lines are IPOD2008PINK

    fulfilment: Json = json.loads(fixture_bytes("shopify/fulfillments_create"))
    shipped = await shopify_store.receipt("fulfillments/create", fulfilment, "f-1")
    fulfilment.update(
        status="success", shipment_status="delivered", updated_at="2022-01-03T10:00:00-05:00"
    )
    delivered = await shopify_store.receipt("fulfillments/update", fulfilment, "f-2")
    # The carrier's earlier word, delivered late: the stored shipment is newer.
    stale = {
        **fulfilment,
        "shipment_status": "in_transit",
        "updated_at": "2022-01-02T10:00:00-05:00",
    }
    late = await shopify_store.receipt("fulfillments/update", stale, "f-3")

    refund: Json = json.loads(fixture_bytes("shopify/refunds_create"))
    refund["refund_line_items"][1]["restock_type"] = "return"
    refunded = await shopify_store.receipt("refunds/create", refund, "r-1")
    # Another delivery of the same refund (Shopify sends each topic to each subscription).
    again = await shopify_store.receipt("refunds/create", refund, "r-2")

    assert [r["outcome"] for r in (shipped, delivered, late, refunded, again)] == [
        "applied",
        "applied",
        "unchanged",
        "applied",
        "unchanged",
    ]
    assert {r["order_id"] for r in (shipped, delivered, refunded)} == {order_id}
    assert await stock(shopify_store, viewer) == 9  # the returned unit is back, once

    stored = (await client.get(f"/v1/orders/{order_id}", headers=viewer)).json()
    assert stored["version"] == 4
    assert (stored["financial_status"], stored["fulfillment_status"]) == (
        "partially_refunded",
        "fulfilled",
    )
    assert [(s["external_id"], s["status"], s["carrier"]) for s in stored["shipments"]] == [
        ("123456", "delivered", "UPS")
    ]
    assert [(r["external_id"], r["amount"], r["restocked"]) for r in stored["refunds"]] == [
        ("890088186047892400", "85.00", True)
    ]
    assert [(r["external_id"], r["status"]) for r in stored["returns"]] == [
        ("refund-890088186047892400", "received")
    ]
    assert stored["refunded_total"] == "85.00"
    assert stored["net"] == {"paid": "388.00", "refunded": "85.00", "net": "303.00"}

    records = await read_topic(
        settings.orders_topic, lambda rs: len(order_events(rs, order_id)) >= 8
    )
    events = order_events(records, order_id)
    assert [(e["type"].removeprefix("crm.order."), e["data"]["version"]) for e in events] == [
        ("placed", 1),
        ("paid", 1),
        ("fulfilled", 2),
        ("shipment_updated", 2),
        ("shipment_updated", 3),
        ("delivered", 3),
        ("partially_refunded", 4),
        ("returned", 4),
    ]
    for event in events:
        CONTRACTS.validate(event)

    assert await db_rows(
        "SELECT kind, ref, lines FROM stock_movements WHERE order_id = :o"
        " ORDER BY created_at, kind",
        o=order_id,
    ) == [
        ("order_paid", "", [["IPOD2008PINK", 2]]),
        ("order_returned", "refund-890088186047892400", [["IPOD2008PINK", 1]]),
    ]
    assert await db_rows(
        "SELECT (SELECT count(*) FROM order_refunds WHERE order_id = :o),"
        " (SELECT count(*) FROM order_shipments WHERE order_id = :o),"
        " (SELECT count(*) FROM order_returns WHERE order_id = :o)",
        o=order_id,
    ) == [(1, 1, 1)]


async def test_units_a_refund_cancelled_go_back_to_stock_once_and_the_cancel_gives_the_rest(
    db_rows: Rows,
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    fixture_bytes: Callable[[str], bytes],
    shopify_store: "ShopifyStore",
    store_id: str,
) -> None:
    admin, viewer = auth("admin"), auth("viewer")
    url = f"/v1/inventory/IPOD2008PINK?store_id={store_id}"
    assert (await client.put(url, json={"quantity": 10}, headers=admin)).status_code == 200
    order_id = order_id_for(store_id, SHOPIFY_ORDER)

    order = paid_order(fixture_bytes)
    assert await shopify_store.outcome("orders/create", order, "o-1") == "applied"
    assert await stock(shopify_store, viewer) == 8

    # One of the two units taken off the order before it shipped, and put back on the shelf.
    refund: Json = json.loads(fixture_bytes("shopify/refunds_create"))
    refund["refund_line_items"][0]["restock_type"] = "cancel"
    assert await shopify_store.outcome("refunds/create", refund, "r-1") == "applied"
    assert await shopify_store.outcome("refunds/create", refund, "r-2") == "unchanged"
    assert await stock(shopify_store, viewer) == 9

    cancelled = {
        **order,
        "cancelled_at": "2022-01-05T10:00:00-05:00",
        "updated_at": "2022-01-05T10:00:00-05:00",
        "refunds": [refund],
    }
    assert await shopify_store.outcome("orders/cancelled", cancelled, "o-2") == "applied"
    assert await stock(shopify_store, viewer) == 10  # the other unit; never more than the sale took

    assert await db_rows(
        "SELECT kind, ref, lines FROM stock_movements WHERE order_id = :o ORDER BY created_at, ref",
        o=order_id,
    ) == [
        ("order_paid", "", [["IPOD2008PINK", 2]]),
        ("order_cancelled", "refund:890088186047892400", [["IPOD2008PINK", 1]]),
        ("order_cancelled", "", [["IPOD2008PINK", 1]]),
    ]
    stored = (await client.get(f"/v1/orders/{order_id}", headers=viewer)).json()
    assert [line["restocked"] for line in stored["refunds"][0]["lines"]] == [True, False]
    assert stored["returns"] == []


async def test_a_full_order_revision_after_a_part_keeps_what_the_part_added(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    fixture_bytes: Callable[[str], bytes],
    shopify_store: "ShopifyStore",
    store_id: str,
) -> None:
    order = paid_order(fixture_bytes)
    fulfilment: Json = json.loads(fixture_bytes("shopify/fulfillments_create"))
    fulfilment.update(updated_at="2022-01-02T10:00:00-05:00", shipment_status="in_transit")

    assert await shopify_store.outcome("orders/create", order, "o-1") == "applied"
    assert await shopify_store.outcome("fulfillments/create", fulfilment, "f-1") == "applied"
    # orders/updated written before the fulfilment, delivered after it: older, so it loses.
    earlier = {**order, "updated_at": "2022-01-01T12:00:00-05:00", "note": "gift"}
    assert await shopify_store.outcome("orders/updated", earlier, "o-2") == "unchanged"
    # orders/updated written after it carries the fulfilment too, as Shopify sends it: the
    # same state as the merge, so nothing to announce...
    later = {
        **order,
        "updated_at": "2022-01-02T11:00:00-05:00",
        "fulfillment_status": "fulfilled",
        "fulfillments": [fulfilment],
    }
    assert await shopify_store.outcome("orders/updated", later, "o-3") == "unchanged"
    # ...until something else changes.
    noted = {**later, "updated_at": "2022-01-02T12:00:00-05:00", "note": "gift"}
    assert await shopify_store.outcome("orders/updated", noted, "o-4") == "applied"

    order_id = order_id_for(store_id, SHOPIFY_ORDER)
    stored = (await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))).json()
    assert stored["note"] == "gift"
    assert [(s["external_id"], s["status"]) for s in stored["shipments"]] == [
        ("123456", "in_transit")
    ]
    assert stored["version"] == 3


async def test_a_fulfilment_of_an_order_never_stored_is_kept_and_ignored(
    app: FastAPI,
    fixture_bytes: Callable[[str], bytes],
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    count_orders: Callable[..., Awaitable[int]],
    shopify_store: "ShopifyStore",
    store_id: str,
    final: Final,
) -> None:
    raw = fixture_bytes("shopify/fulfillments_create")

    response = await shopify_store.send("fulfillments/create", raw, "f-1")

    assert response.status_code == 200, response.text
    assert (await final(response))["outcome"] == "ignored"
    assert f"order {SHOPIFY_ORDER} is not stored yet" in (await final(response))["detail"]
    assert await count_orders(app, store_id) == 0
    [kept] = await stored_deliveries(app, store_id)
    assert (kept["topic"], kept["outcome"], bytes(kept["body"])) == (
        "fulfillments/create",
        "ignored",
        raw,
    )


async def test_a_part_that_does_not_map_is_422_and_changes_nothing(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    fixture_bytes: Callable[[str], bytes],
    shopify_store: "ShopifyStore",
    final: Final,
    failed_fields: Callable[[Json], list[str]],
) -> None:
    created = await shopify_store.send("orders/create", paid_order(fixture_bytes), "o-1")
    fulfilment: Json = json.loads(fixture_bytes("shopify/fulfillments_create"))
    fulfilment["tracking_numbers"] = ["1Z\u0000"]
    fulfilment["shipment_status"] = "teleported"

    response = await shopify_store.send("fulfillments/create", fulfilment, "f-1")

    assert response.status_code == 200, response.text
    refused = await final(response)
    assert (refused["outcome"], failed_fields(refused)) == ("failed", ["shipment_status"])
    fulfilment["shipment_status"] = "in_transit"
    unstorable = await final(await shopify_store.send("fulfillments/create", fulfilment, "f-2"))
    assert unstorable["outcome"] == "failed"
    assert failed_fields(unstorable)[0] == "canonical.shipments.0.tracking_numbers.0"
    order_id = (await final(created))["order_id"]
    stored = (await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))).json()
    assert (stored["version"], stored["shipments"]) == (1, [])


async def test_a_refund_that_came_before_its_order_applies_when_replayed(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    fixture_bytes: Callable[[str], bytes],
    shopify_store: "ShopifyStore",
    final: Final,
) -> None:
    early = await shopify_store.send(
        "refunds/create", fixture_bytes("shopify/refunds_create"), "r-1"
    )
    assert early.status_code == 200, early.text
    assert (await final(early))["outcome"] == "ignored"
    created = await shopify_store.send("orders/create", paid_order(fixture_bytes), "o-1")
    assert (await final(created))["outcome"] == "applied"

    replay = f"/v1/webhooks/deliveries/{early.json()['delivery']}:replay"
    replayed = await client.post(replay, headers=auth("admin"))
    again = await client.post(replay, headers=auth("admin"))

    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["outcome"], (await final(again))["outcome"]) == ("applied", "unchanged")
    order_id = (await final(created))["order_id"]
    stored = (await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))).json()
    assert (stored["financial_status"], stored["refunded_total"]) == ("partially_refunded", "85.00")
