"""Shopify `order_transactions/create` merged into its order as a payment, on real PostgreSQL and
Kafka: net paid follows the captures, nothing settles backwards or counts twice, and the payments
outlive later full revisions of the order."""

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
TRANSACTIONS = "order_transactions/create"
SHOPIFY_ORDER = "820982911946154500"  # as the docs' payloads write it (rounded upstream)
AUTHORIZATION = "120560818172775260"  # the documented transaction's id, rounded upstream
CAPTURE = 120560818172775266  # beyond 2^53: kept to the digit


def body(value: Json) -> bytes:
    return json.dumps(value).encode()


def shop_order(fixture_bytes: Callable[[str], bytes], **changes: Any) -> Json:
    """The documented order (total 388.00), not cancelled (the docs' sample is voided)."""
    order: Json = json.loads(fixture_bytes("shopify/orders_create"))
    order.update(financial_status="paid", cancelled_at=None, cancel_reason=None)
    order.update(changes)
    return order


def capture(fixture_bytes: Callable[[str], bytes], **changes: Any) -> bytes:
    """A capture of the documented authorization, as Shopify would send it (ids exact)."""
    transaction: Json = json.loads(fixture_bytes("shopify/order_transactions_create"))
    transaction.update(
        kind="capture",
        amount="388.00",
        authorization=None,
        processed_at="2022-01-02T10:00:00-05:00",
        created_at="2022-01-02T10:00:00-05:00",
        admin_graphql_api_id=f"gid://shopify/OrderTransaction/{CAPTURE}",
        id=CAPTURE,
        parent_id=int(AUTHORIZATION),
    )
    transaction.update(changes)
    return body(transaction)


async def test_a_capture_becomes_a_payment_and_what_the_order_has_paid(
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
    viewer = auth("viewer")
    order_id = order_id_for(store_id, SHOPIFY_ORDER)

    async def stored() -> Json:
        found: Json = (await client.get(f"/v1/orders/{order_id}", headers=viewer)).json()
        return found

    authorized = shop_order(fixture_bytes, financial_status="authorized")
    assert await shopify_store.outcome("orders/create", authorized, "o-1") == "applied"
    authorization = await shopify_store.receipt(
        TRANSACTIONS, fixture_bytes("shopify/order_transactions_create"), "t-1"
    )
    assert (authorization["outcome"], authorization["order_id"]) == ("applied", order_id)
    assert (await stored())["net"]["paid"] == "0"  # reserved, not taken

    unsettled = capture(fixture_bytes, status="pending")
    settled = capture(fixture_bytes, status="success")
    pending = await shopify_store.outcome(TRANSACTIONS, unsettled, "t-2")
    assert (await stored())["net"]["paid"] == "0"
    captured = await shopify_store.outcome(TRANSACTIONS, settled, "t-3")
    # The same delivery again, another copy of the capture, and a late pending copy of it.
    duplicate = await shopify_store.outcome(TRANSACTIONS, settled, "t-3")
    copy = await shopify_store.outcome(TRANSACTIONS, settled, "t-4")
    late = await shopify_store.outcome(TRANSACTIONS, unsettled, "t-5")

    assert [pending, captured, duplicate, copy, late] == [
        "applied",
        "applied",
        "duplicate",
        "unchanged",
        "unchanged",
    ]
    order = await stored()
    assert order["version"] == 4
    assert [
        (p["external_id"], p["kind"], p["status"], p["amount"], p["parent_id"])
        for p in order["payments"]
    ] == [
        (AUTHORIZATION, "authorization", "success", "403.00", None),
        (str(CAPTURE), "capture", "success", "388.00", AUTHORIZATION),
    ]
    assert order["payments"][1]["gateway"] == "visa"
    assert order["payments"][1]["currency"] == "USD"
    assert order["payments"][1]["processed_at"] == "2022-01-02T15:00:00Z"
    assert order["net"] == {"paid": "388.00", "refunded": "0", "net": "388.00"}
    # Shopify states the order paid in its own orders/* revision; a transaction does not.
    assert order["financial_status"] == "authorized"
    assert await db_rows(
        "SELECT external_id, kind, status, amount::text, currency FROM order_payments"
        " WHERE order_id = :o ORDER BY position",
        o=order_id,
    ) == [
        (AUTHORIZATION, "authorization", "success", "403.00", "USD"),
        (str(CAPTURE), "capture", "success", "388.00", "USD"),
    ]

    records = await read_topic(
        settings.orders_topic, lambda rs: len(order_events(rs, order_id)) >= 4
    )
    events = order_events(records, order_id)
    assert [(e["type"].removeprefix("crm.order."), e["data"]["version"]) for e in events] == [
        ("placed", 1),
        ("updated", 2),
        ("updated", 3),
        ("updated", 4),
    ]
    assert [p["status"] for p in events[-1]["data"]["payments"]] == ["success", "success"]
    for event in events:
        CONTRACTS.validate(event)


async def test_payments_outlive_later_full_revisions_of_the_order(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    fixture_bytes: Callable[[str], bytes],
    shopify_store: "ShopifyStore",
    store_id: str,
) -> None:
    order = shop_order(fixture_bytes, financial_status="authorized")

    assert await shopify_store.outcome("orders/create", order, "o-1") == "applied"
    assert await shopify_store.outcome(TRANSACTIONS, capture(fixture_bytes), "t-1") == "applied"
    # orders/paid as Shopify sends it after the capture, dated the same second: it lists no
    # transactions, and the capture stays.
    paid = {**order, "financial_status": "paid", "updated_at": "2022-01-02T10:00:00-05:00"}
    assert await shopify_store.outcome("orders/paid", paid, "o-2") == "applied"
    # The same state again under another topic: nothing new, the payment included.
    assert await shopify_store.outcome("orders/updated", paid, "o-3") == "unchanged"
    noted = {**paid, "updated_at": "2022-01-03T10:00:00-05:00", "note": "gift"}
    assert await shopify_store.outcome("orders/updated", noted, "o-4") == "applied"

    order_id = order_id_for(store_id, SHOPIFY_ORDER)
    stored = (await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))).json()
    assert (stored["version"], stored["note"], stored["financial_status"]) == (4, "gift", "paid")
    assert [(p["external_id"], p["status"]) for p in stored["payments"]] == [
        (str(CAPTURE), "success")
    ]
    assert stored["net"] == {"paid": "388.00", "refunded": "0", "net": "388.00"}


async def test_a_refund_transaction_is_a_payment_and_its_money_is_counted_once(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    fixture_bytes: Callable[[str], bytes],
    shopify_store: "ShopifyStore",
    store_id: str,
) -> None:
    refund: Json = json.loads(fixture_bytes("shopify/refunds_create"))
    # The refund's first transaction, as order_transactions/create announces it on its own.
    given_back = refund["transactions"][0]
    order = shop_order(fixture_bytes)
    assert await shopify_store.outcome("orders/create", order, "o-1") == "applied"
    assert await shopify_store.outcome(TRANSACTIONS, capture(fixture_bytes), "t-1") == "applied"
    assert await shopify_store.outcome("refunds/create", refund, "r-1") == "applied"
    assert await shopify_store.outcome(TRANSACTIONS, given_back, "t-2") == "applied"

    order_id = order_id_for(store_id, SHOPIFY_ORDER)
    stored = (await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))).json()
    assert [(p["kind"], p["amount"], p["gateway"]) for p in stored["payments"]] == [
        ("capture", "388.00", "visa"),
        ("refund", "75.00", "bogus"),
    ]
    assert [r["amount"] for r in stored["refunds"]] == ["85.00"]
    assert (stored["financial_status"], stored["refunded_total"]) == ("partially_refunded", "85.00")
    assert stored["net"] == {"paid": "388.00", "refunded": "85.00", "net": "303.00"}


async def test_a_transaction_that_came_before_its_order_applies_when_replayed(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    fixture_bytes: Callable[[str], bytes],
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    count_orders: Callable[..., Awaitable[int]],
    shopify_store: "ShopifyStore",
    store_id: str,
    final: Final,
) -> None:
    raw = capture(fixture_bytes)
    early = await shopify_store.send(TRANSACTIONS, raw, "t-1")

    assert early.status_code == 200, early.text
    assert (await final(early))["outcome"] == "ignored"
    assert f"order {SHOPIFY_ORDER} is not stored yet" in (await final(early))["detail"]
    assert await count_orders(app, store_id) == 0
    [kept] = await stored_deliveries(app, store_id)
    assert (kept["topic"], kept["outcome"], bytes(kept["body"])) == (
        TRANSACTIONS,
        "ignored",
        raw,
    )

    order = shop_order(fixture_bytes, financial_status="authorized")
    created = await shopify_store.send("orders/create", order, "o-1")
    assert (await final(created))["outcome"] == "applied"
    replay = f"/v1/webhooks/deliveries/{early.json()['delivery']}:replay"
    replayed = await client.post(replay, headers=auth("admin"))
    again = await client.post(replay, headers=auth("admin"))

    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["outcome"], (await final(again))["outcome"]) == ("applied", "unchanged")
    order_id = (await final(created))["order_id"]
    stored = await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))
    assert [p["external_id"] for p in stored.json()["payments"]] == [str(CAPTURE)]
    assert stored.json()["net"]["paid"] == "388.00"
    assert stored.json()["version"] == 2


async def test_a_transaction_that_does_not_map_is_422_on_its_field_and_changes_nothing(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    fixture_bytes: Callable[[str], bytes],
    shopify_store: "ShopifyStore",
    final: Final,
    failed_fields: Callable[[Json], list[str]],
) -> None:
    created = await shopify_store.send("orders/create", shop_order(fixture_bytes), "o-1")
    transaction: Json = json.loads(fixture_bytes("shopify/order_transactions_create"))

    unknown = await shopify_store.send(
        TRANSACTIONS, {**transaction, "kind": "change", "status": "awaiting_response"}, "t-1"
    )
    unstorable = await shopify_store.send(
        TRANSACTIONS, {**transaction, "gateway": "vi\u0000sa"}, "t-2"
    )

    assert (unknown.status_code, unstorable.status_code) == (200, 200), unknown.text
    refused = await final(unknown)
    assert (refused["outcome"], failed_fields(refused)) == ("failed", ["kind", "status"])
    unstored = await final(unstorable)
    assert unstored["outcome"] == "failed"
    assert failed_fields(unstored)[0] == "canonical.payments.0.gateway"
    order_id = (await final(created))["order_id"]
    stored = (await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))).json()
    assert (stored["version"], stored["payments"]) == (1, [])
