"""Shopify checkouts/create and checkouts/update through the carts service, on real PostgreSQL
and Kafka: started once, activity stored, abandoned when idle, never when an order followed."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from crm_events.registry import CONTRACTS
from fastapi import FastAPI
from order_sync.carts.events import checkout_id_for
from order_sync.config import Settings
from sqlalchemy import text

pytestmark = pytest.mark.integration

Json = dict[str, Any]
Final = Callable[[httpx.Response], Awaitable[Json]]
Post = Callable[..., Awaitable[httpx.Response]]
ReadTopic = Callable[..., Awaitable[list[Any]]]
Poll = Callable[..., Awaitable[Any]]
TOKEN = "123123123"  # the documented checkout's token


def events(records: list[Any], event_type: str) -> list[Json]:
    decoded = [json.loads(record.value) for record in records if record.value is not None]
    return [event for event in decoded if event["type"] == event_type]


def checkout_body(fixture: bytes, token: str, **changes: Any) -> bytes:
    payload = json.loads(fixture)  # no id is read back from this copy, so floats are harmless
    payload.update(token=token, **changes)
    return json.dumps(payload).encode()


async def state_of(app: FastAPI, store_id: str, token: str) -> str | None:
    async with app.state.runtime.sessions() as session:
        found = await session.scalar(
            text("SELECT state FROM checkouts WHERE store_id = :s AND external_id = :t"),
            {"s": store_id, "t": token},
        )
        return str(found) if found is not None else None


async def test_a_checkout_is_started_once_updated_and_abandoned_when_idle(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    read_topic: ReadTopic,
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    created = fixture_bytes("shopify/checkouts_create")
    updated = checkout_body(created, TOKEN, updated_at="2022-01-01T00:05:00Z", total_price="199.00")
    ours = checkout_id_for(store_id, TOKEN)

    first = await post_shopify(
        client, store_id, created, secret="k", topic="checkouts/create", webhook_id="c-1"
    )
    again = await post_shopify(
        client, store_id, created, secret="k", topic="checkouts/create", webhook_id="c-1"
    )
    later = await post_shopify(
        client, store_id, updated, secret="k", topic="checkouts/update", webhook_id="c-2"
    )
    stale = await post_shopify(
        client, store_id, created, secret="k", topic="checkouts/update", webhook_id="c-3"
    )

    assert [r.status_code for r in (first, again, later, stale)] == [200] * 4
    assert [(await final(r))["outcome"] for r in (first, again, later, stale)] == [
        "applied",
        "duplicate",
        "applied",
        "unchanged",
    ]
    assert ours in (await final(first))["detail"]
    records = await read_topic(
        settings.carts_topic, lambda rs: bool(events(rs, "crm.checkout.abandoned"))
    )
    [started] = events(records, "crm.checkout.started")
    [abandoned] = events(records, "crm.checkout.abandoned")
    for event in (started, abandoned):
        CONTRACTS.validate(event)
        assert event["subject"] == ours
    assert started["data"]["external_id"] == TOKEN
    assert started["data"]["cart_external_id"] == "eeafa272cebfd4b22385bc4b645e762c"
    assert started["data"]["total"] == "421.88"
    # What was abandoned is the checkout as last stored: the update, not the stale revision.
    assert (abandoned["data"]["total"], abandoned["data"]["version"]) == ("199.00", 2)
    assert abandoned["data"]["recovery_url"].endswith(
        f"/checkouts/{TOKEN}/recover?key=example-secret-token"
    )
    kept = [(d["topic"], d["outcome"]) for d in await stored_deliveries(app, store_id)]
    assert kept == [
        ("checkouts/create", "applied"),
        ("checkouts/create", "duplicate"),
        ("checkouts/update", "applied"),
        ("checkouts/update", "unchanged"),
    ]


async def test_a_completed_checkout_or_one_an_order_followed_is_never_abandoned(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    read_topic: ReadTopic,
    eventually: Poll,
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    fixture = fixture_bytes("shopify/checkouts_create")

    # Each checkout has a customer of its own, none the order's: only the token ties the order
    # to its checkout, and only completed_at tells of the other order.
    def stranger(n: int) -> Json:
        return {"customer": {"id": n, "email": f"c{n}@example.com"}, "email": f"c{n}@example.com"}

    idle = checkout_body(fixture, "t-idle", cart_token="cart-idle", **stranger(1))
    completed_later = checkout_body(fixture, "t-done", cart_token="cart-done", **stranger(2))
    completion = checkout_body(
        fixture,
        "t-done",
        cart_token="cart-done",
        completed_at="2022-01-01T00:10:00Z",
        updated_at="2022-01-01T00:10:00Z",
        **stranger(2),
    )
    ordered = checkout_body(fixture, "t-ordered", cart_token="cart-ordered", **stranger(3))
    order = json.loads(fixture_bytes("shopify/orders_create"))
    order.update(id=5001, checkout_token="t-ordered", cart_token=None)

    for n, (topic, body) in enumerate(
        [
            ("checkouts/create", idle),
            ("checkouts/create", completed_later),
            ("checkouts/update", completion),
            ("checkouts/create", ordered),
            ("orders/create", json.dumps(order).encode()),
        ]
    ):
        response = await post_shopify(
            client, store_id, body, secret="k", topic=topic, webhook_id=f"w-{n}"
        )
        assert (response.status_code, (await final(response))["outcome"]) == (200, "applied")

    records = await read_topic(
        settings.carts_topic, lambda rs: bool(events(rs, "crm.checkout.abandoned"))
    )
    # The sweeper decided all three in the same rounds; only the idle one was abandoned.
    await eventually(
        lambda: _decided(app, store_id, ["t-idle", "t-ordered"]), what="checkouts decided"
    )
    assert [e["data"]["external_id"] for e in events(records, "crm.checkout.abandoned")] == [
        "t-idle"
    ]
    assert await state_of(app, store_id, "t-done") == "converted"
    assert await state_of(app, store_id, "t-ordered") == "converted"
    assert await state_of(app, store_id, "t-idle") == "abandoned"
    started = {e["data"]["external_id"] for e in events(records, "crm.checkout.started")}
    assert started == {"t-idle", "t-done", "t-ordered"}


async def _decided(app: FastAPI, store_id: str, tokens: list[str]) -> bool:
    found = [await state_of(app, store_id, token) for token in tokens]
    return all(state not in (None, "open") for state in found)


async def test_a_checkout_that_does_not_map_is_refused_by_its_path(
    app: FastAPI,
    client: httpx.AsyncClient,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    store_id: str,
    final: Final,
    failed_fields: Callable[[Json], list[str]],
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    body = checkout_body(fixture_bytes("shopify/checkouts_create"), TOKEN, total_price=None)

    response = await post_shopify(
        client, store_id, body, secret="k", topic="checkouts/update", webhook_id="bad"
    )

    assert response.status_code == 200, response.text
    outcome = await final(response)
    assert outcome["outcome"] == "failed"
    assert failed_fields(outcome) == ["total_price"]
    assert await state_of(app, store_id, TOKEN) is None
    [kept] = await stored_deliveries(app, store_id)
    assert (kept["outcome"], bytes(kept["body"])) == ("failed", body)
