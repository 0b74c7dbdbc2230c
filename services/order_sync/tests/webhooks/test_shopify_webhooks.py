"""POST /v1/webhooks/shopify/{store_id} on real PostgreSQL and Kafka."""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from crm_events.registry import CONTRACTS
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.orders.events import order_id_for
from order_sync.webhooks import flows

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
# laravel-shopify's test secret and its documented signature of the 2017 test notification.
SECRET = "0" * 32
NOTIFICATION_SIGNATURE = "hvTE9wpDzMcDnPEuHWvYZ58ElKn5vHs0LomurfNIuUc="
NOTIFICATION_ID = "820982911946154508"

Json = dict[str, Any]
Post = Callable[..., Awaitable[httpx.Response]]
Final = Callable[[httpx.Response], Awaitable[Json]]


async def test_a_signed_order_is_stored_kept_raw_and_announced_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    read_topic: Callable[..., Awaitable[Any]],
    order_events: Callable[..., list[Json]],
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret=SECRET)
    body = fixture_bytes("shopify/orders_test_notification_2017")
    order_id = order_id_for(store_id, NOTIFICATION_ID)

    response = await post_shopify(
        client, store_id, body, secret=None, signature=NOTIFICATION_SIGNATURE, webhook_id="w-1"
    )

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "received"
    receipt = await final(response)
    assert (receipt["outcome"], receipt["order_id"]) == ("applied", order_id)
    stored = (await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))).json()
    assert (stored["external_id"], stored["version"], stored["test"]) == (NOTIFICATION_ID, 1, True)
    assert stored["customer"]["external_id"] == "115310627314723954"
    records = await read_topic(
        settings.orders_topic, lambda rs: len(order_events(rs, order_id)) >= 2
    )
    events = order_events(records, order_id)
    # The sample is a voided, cancelled order: it is placed and cancelled in one change.
    assert [e["type"] for e in events] == ["crm.order.placed", "crm.order.cancelled"]
    for event in events:
        CONTRACTS.validate(event)

    [kept] = await stored_deliveries(app, store_id)
    assert bytes(kept["body"]) == body
    assert kept["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert (kept["platform"], kept["topic"], kept["delivery_id"]) == (
        "shopify",
        "orders/create",
        "w-1",
    )
    assert (kept["outcome"], kept["order_id"]) == ("applied", order_id)
    assert kept["headers"]["x-shopify-hmac-sha256"] == NOTIFICATION_SIGNATURE
    assert kept["headers"]["x-shopify-shop-domain"] == "example.myshopify.com"
    assert kept["received_at"].tzinfo is not None

    # Shopify retries with the same webhook id: answered 200, nothing applied again.
    again = await post_shopify(
        client, store_id, body, secret=None, signature=NOTIFICATION_SIGNATURE, webhook_id="w-1"
    )
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "duplicate"
    # Another webhook with the same order revision is applied, and changes nothing.
    other = await post_shopify(
        client, store_id, body, secret=None, signature=NOTIFICATION_SIGNATURE, webhook_id="w-2"
    )
    assert (await final(other))["outcome"] == "unchanged"
    after = (await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))).json()
    assert after == stored
    outcomes = [(d["delivery_id"], d["outcome"]) for d in await stored_deliveries(app, store_id)]
    assert outcomes == [("w-1", "applied"), ("w-1", "duplicate"), ("w-2", "unchanged")]


async def test_a_newer_revision_from_another_topic_is_applied(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="s3cret")
    created = fixture_bytes("shopify/orders_create")
    paid = (
        created.replace(b'"financial_status": "voided"', b'"financial_status": "paid"')
        .replace(b'"cancelled_at": "2021-12-31T19:00:00-05:00"', b'"cancelled_at": null')
        .replace(
            b'"updated_at": "2021-12-31T19:00:00-05:00"',
            b'"updated_at": "2022-01-02T08:00:00-05:00"',
        )
    )
    assert paid != created

    first = await post_shopify(client, store_id, created, secret="s3cret", webhook_id="a")
    second = await post_shopify(
        client, store_id, paid, secret="s3cret", topic="orders/paid", webhook_id="b"
    )

    assert (first.status_code, second.status_code) == (200, 200), second.text
    order_id = (await final(first))["order_id"]
    assert (await final(second))["outcome"] == "applied"
    assert order_id == order_id_for(store_id, "820982911946154500")
    stored = (await client.get(f"/v1/orders/{order_id}", headers=auth("viewer"))).json()
    assert (stored["version"], stored["financial_status"]) == (2, "paid")


async def test_a_wrong_or_missing_signature_is_401_and_stores_no_order(
    app: FastAPI,
    client: httpx.AsyncClient,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    count_orders: Callable[..., Awaitable[int]],
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret=SECRET)
    body = fixture_bytes("shopify/orders_test_notification_2017")

    forged = await post_shopify(client, store_id, body, secret="not-the-secret")
    unsigned = await post_shopify(client, store_id, body, secret=None)
    tampered = await post_shopify(
        client,
        store_id,
        body.replace(b"57.98", b"0.01"),
        secret=None,
        signature=NOTIFICATION_SIGNATURE,
    )

    for response in (forged, unsigned, tampered):
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["field"] == "header.x-shopify-hmac-sha256"
    assert "missing" in unsigned.json()["detail"]
    assert await count_orders(app, store_id) == 0
    kept = await stored_deliveries(app, store_id)
    assert [d["outcome"] for d in kept] == ["rejected"] * 3
    assert bytes(kept[0]["body"]) == b""  # unauthenticated bytes are not kept...
    assert kept[0]["body_sha256"] == hashlib.sha256(body).hexdigest()  # ...only their digest
    # A rejected delivery holds no de-duplication key: the genuine one is still applied.
    genuine = await post_shopify(
        client, store_id, body, secret=None, signature=NOTIFICATION_SIGNATURE
    )
    assert (await final(genuine))["outcome"] == "applied"


async def test_unhandled_topics_are_202_and_malformed_orders_failed_all_kept(
    app: FastAPI,
    client: httpx.AsyncClient,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    count_orders: Callable[..., Awaitable[int]],
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")

    refund = await post_shopify(
        client,
        store_id,
        fixture_bytes("shopify/refunds_create"),
        secret="k",
        topic="refunds/create",
        webhook_id="r-1",
    )
    checkout = await post_shopify(
        client,
        store_id,
        fixture_bytes("shopify/checkouts_create"),
        secret="k",
        topic="checkouts/create",
        webhook_id="c-1",
    )
    anonymized = fixture_bytes("shopify/orders_anonymized_real_shape")
    malformed = await post_shopify(client, store_id, anonymized, secret="k", webhook_id="m-1")
    malformed_outcome = await final(malformed)
    retried = await post_shopify(client, store_id, anonymized, secret="k", webhook_id="m-1")
    retried_outcome = await final(retried)
    huge = fixture_bytes("shopify/orders_create").replace(
        b'"quantity": 1,', b'"quantity": 2147483648,', 1
    )
    unstorable = await post_shopify(client, store_id, huge, secret="k", webhook_id="q-1")
    not_json = await post_shopify(client, store_id, b"{not json", secret="k", webhook_id="j-1")
    no_topic = await post_shopify(client, store_id, b"{}", secret="k", topic="", webhook_id="t")

    # Every authentic delivery of a handled topic is answered 200 once stored; what applying
    # it did is its recorded outcome.
    for response in (refund, checkout, malformed, retried, unstorable, not_json):
        assert response.status_code == 200, response.text
    refunded = await final(refund)
    assert refunded["outcome"] == "ignored"
    # A refund of an order never stored: kept (a replay applies it once the order is there).
    assert "820982911946154500 is not stored yet" in refunded["detail"]
    assert (await final(checkout))["outcome"] == "applied"
    assert malformed_outcome["outcome"] == "failed"
    for field in ("total_price", "currency", "line_items[0].price"):
        assert field in malformed_outcome["detail"]
    # A failed delivery does not hold its webhook id: Shopify's retry is tried again.
    assert retried_outcome["outcome"] == "failed"
    assert retried_outcome["delivery"] != malformed_outcome["delivery"]
    # The contract takes it, PostgreSQL could not: refused before anything is written.
    unstored = await final(unstorable)
    assert unstored["outcome"] == "failed"
    assert "canonical.lines.0.quantity" in unstored["detail"]
    unparsed = await final(not_json)
    assert (unparsed["outcome"], unparsed["detail"].split(":")[0]) == ("failed", "body")
    assert no_topic.status_code == 422
    assert no_topic.json()["errors"][0]["field"] == "header.x-shopify-topic"
    assert await count_orders(app, store_id) == 0
    kept = [(d["topic"], d["outcome"]) for d in await stored_deliveries(app, store_id)]
    assert kept == [
        ("refunds/create", "ignored"),
        ("checkouts/create", "applied"),
        ("orders/create", "failed"),
        ("orders/create", "failed"),
        ("orders/create", "failed"),
        ("orders/create", "failed"),
        (None, "failed"),
    ]
    details = [d["detail"] for d in await stored_deliveries(app, store_id)]
    assert "total_price" in details[2]


async def test_stores_that_cannot_take_shopify_webhooks_refuse_them(
    app: FastAPI,
    client: httpx.AsyncClient,
    register_store: Callable[..., Awaitable[httpx.Response]],
    post_shopify: Post,
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    store_id: str,
) -> None:
    await register_store(client, f"{store_id}-nosecret", platform="shopify")
    await register_store(client, f"{store_id}-woo", platform="woocommerce", webhook_secret="k")

    unknown = await post_shopify(client, f"{store_id}-nowhere", b"{}", secret="k")
    no_secret = await post_shopify(client, f"{store_id}-nosecret", b"{}", secret="k")
    wrong_platform = await post_shopify(client, f"{store_id}-woo", b"{}", secret="k")

    assert unknown.status_code == 404
    assert no_secret.status_code == 409
    assert "webhook_secret" in no_secret.json()["detail"]
    assert wrong_platform.status_code == 409
    for response in (unknown, no_secret, wrong_platform):
        assert response.headers["content-type"] == PROBLEM
    for suffix in ("-nowhere", "-nosecret", "-woo"):
        [kept] = await stored_deliveries(app, f"{store_id}{suffix}")
        assert kept["outcome"] == "rejected"


async def test_concurrent_deliveries_of_one_webhook_apply_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    body = fixture_bytes("shopify/orders_create")

    responses = await asyncio.gather(
        *(post_shopify(client, store_id, body, secret="k", webhook_id="same") for _ in range(4))
    )

    outcomes = [(await final(response))["outcome"] for response in responses]
    assert sorted(outcomes) == ["applied"] + ["duplicate"] * 3
    assert sorted(d["outcome"] for d in await stored_deliveries(app, store_id)) == [
        "applied",
        *["duplicate"] * 3,
    ]


async def test_claims_keep_working_once_statements_are_planned_generically(
    client: httpx.AsyncClient,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    store_id: str,
    final: Final,
) -> None:
    # PostgreSQL plans a prepared statement generically from its sixth run on a connection; a
    # claim whose ON CONFLICT predicate were a bound parameter would fail from then on.
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    template = fixture_bytes("shopify/orders_create")
    outcomes = []
    for n in range(12):
        body = template.replace(b'"id": 820982911946154500,', f'"id": {n + 1},'.encode(), 1)
        response = await post_shopify(client, store_id, body, secret="k", webhook_id=f"w-{n}")
        outcomes.append((response.status_code, (await final(response))["outcome"]))

    assert outcomes == [(200, "applied")] * 12


async def test_a_delivery_whose_handling_breaks_is_kept_failed(
    app: FastAPI,
    client: httpx.AsyncClient,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    count_orders: Callable[..., Awaitable[int]],
    monkeypatch: pytest.MonkeyPatch,
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")

    async def broken(**_: Any) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(flows, "apply_shopify", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://order-sync") as raw:
        body = fixture_bytes("shopify/orders_create")
        response = await post_shopify(raw, store_id, body, secret="k", webhook_id="x")

    assert response.status_code == 200, response.text
    assert (await final(response))["outcome"] == "failed"
    assert await count_orders(app, store_id) == 0
    [kept] = await stored_deliveries(app, store_id)
    assert (kept["outcome"], kept["delivery_id"]) == ("failed", "x")
    assert kept["detail"] == "RuntimeError: the disk is on fire"
    assert bytes(kept["body"]) == body
    # It holds no claim on its webhook id, so Shopify's retry is applied once things work.
    monkeypatch.undo()
    retry = await post_shopify(client, store_id, body, secret="k", webhook_id="x")
    assert (await final(retry))["outcome"] == "applied"
