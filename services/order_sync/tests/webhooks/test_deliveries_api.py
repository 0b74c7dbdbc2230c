"""GET /v1/webhooks/deliveries, GET .../{id} and POST .../{id}:replay on real PostgreSQL and
Kafka."""

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.orders.events import order_id_for
from order_sync.webhooks import flows

pytestmark = pytest.mark.integration

Json = dict[str, Any]
Final = Callable[[httpx.Response], Awaitable[Json]]
Post = Callable[..., Awaitable[httpx.Response]]
Auth = Callable[..., dict[str, str]]
ReadTopic = Callable[..., Awaitable[list[Any]]]
PROBLEM = "application/problem+json"
ORDER_ID = "820982911946154500"  # the documented order's id, as its JSON writes it


def of_order(records: list[Any], order_id: str) -> list[str]:
    events = [json.loads(record.value) for record in records if record.value is not None]
    return [event["type"] for event in events if event["subject"] == order_id]


async def ours(client: httpx.AsyncClient, auth: Auth, store_id: str) -> dict[str | None, int]:
    """Our ids of the store's deliveries, by the platform's delivery id (a 422 or a 401 answer
    is a problem document, which does not carry it)."""
    response = await client.get(
        "/v1/webhooks/deliveries", params={"store_id": store_id}, headers=auth("viewer")
    )
    return {d["delivery_id"]: d["id"] for d in response.json()["deliveries"]}


async def test_deliveries_are_listed_newest_first_a_keyset_page_at_a_time(
    client: httpx.AsyncClient,
    auth: Auth,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    store_id: str,
) -> None:
    other = f"{store_id}-b"
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    await register_store(client, other, platform="shopify", webhook_secret="k")
    order = fixture_bytes("shopify/orders_create")
    sent = [
        await post_shopify(client, store_id, order, secret="k", webhook_id="1"),
        await post_shopify(client, store_id, order, secret="k", webhook_id="1"),
        await post_shopify(client, store_id, b"{}", secret="k", topic="products/update"),
        await post_shopify(client, store_id, order, secret="wrong", webhook_id="3"),
        await post_shopify(client, other, order, secret="k", webhook_id="4"),
    ]
    ids = [response.json().get("delivery") for response in sent[:3]]

    async def page(**params: Any) -> Json:
        response = await client.get(
            "/v1/webhooks/deliveries", params=params, headers=auth("viewer")
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    first = await page(store_id=store_id, limit=2)
    second = await page(store_id=store_id, limit=2, cursor=first["next_cursor"])
    listed = first["deliveries"] + second["deliveries"]
    assert second["next_cursor"] is None
    assert [d["outcome"] for d in listed] == ["rejected", "ignored", "duplicate", "applied"]
    assert [d["id"] for d in listed[1:]] == ids[::-1]
    assert [d["body_state"] for d in listed] == ["not_kept", "kept", "kept", "kept"]
    assert "body" not in listed[0]
    assert "headers" not in listed[0]
    assert listed[3]["order_id"] == order_id_for(store_id, ORDER_ID)

    only = await page(store_id=store_id, outcome="applied")
    assert [d["id"] for d in only["deliveries"]] == [ids[0]]
    by_topic = await page(topic="products/update", store_id=store_id)
    assert [d["id"] for d in by_topic["deliveries"]] == [ids[2]]
    everywhere = await page(topic="orders/create", outcome="applied")
    assert {d["store_id"] for d in everywhere["deliveries"]} >= {store_id, other}

    reused = await client.get(
        "/v1/webhooks/deliveries",
        params={"store_id": other, "limit": 2, "cursor": first["next_cursor"]},
        headers=auth("viewer"),
    )
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "cursor"
    bad = await client.get(
        "/v1/webhooks/deliveries", params={"outcome": "lost"}, headers=auth("viewer")
    )
    assert bad.status_code == 422
    anonymous = await client.get("/v1/webhooks/deliveries")
    assert anonymous.status_code == 401


async def test_a_delivery_is_read_with_its_exact_body_by_admins_only(
    client: httpx.AsyncClient,
    auth: Auth,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    body = fixture_bytes("shopify/orders_create")
    not_utf8 = b'{"id": 1, "note": "\xff"}'
    applied = (await post_shopify(client, store_id, body, secret="k", webhook_id="a")).json()
    failed = await post_shopify(client, store_id, not_utf8, secret="k", webhook_id="b")
    forged = await post_shopify(client, store_id, body, secret="wrong", webhook_id="c")
    assert (failed.status_code, forged.status_code) == (200, 401)
    assert (await final(failed))["outcome"] == "failed"
    delivery = await ours(client, auth, store_id)

    read = await client.get(f"/v1/webhooks/deliveries/{applied['delivery']}", headers=auth("admin"))
    assert read.status_code == 200, read.text
    found = read.json()
    # The text keeps every digit of the ids (a client parses it as it sees fit).
    assert found["body"].encode() == body
    assert f'"id": {ORDER_ID}' in found["body"]
    assert (found["body_size"], found["body_base64"], found["body_state"]) == (
        len(body),
        None,
        "kept",
    )
    assert found["headers"]["x-shopify-webhook-id"] == "a"
    assert (found["outcome"], found["replays"]) == ("applied", [])

    binary = (
        await client.get(f"/v1/webhooks/deliveries/{delivery['b']}", headers=auth("admin"))
    ).json()
    assert binary["body"] is None
    assert base64.b64decode(binary["body_base64"]) == not_utf8
    refused = (
        await client.get(f"/v1/webhooks/deliveries/{delivery['c']}", headers=auth("admin"))
    ).json()
    assert (refused["body"], refused["body_base64"], refused["body_size"]) == (None, None, None)
    assert refused["body_state"] == "not_kept"

    viewer = await client.get(
        f"/v1/webhooks/deliveries/{applied['delivery']}", headers=auth("viewer")
    )
    assert viewer.status_code == 403
    missing = await client.get("/v1/webhooks/deliveries/999999999", headers=auth("admin"))
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)


async def test_a_replay_applies_the_stored_body_again_idempotently(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Auth,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    read_topic: ReadTopic,
    monkeypatch: pytest.MonkeyPatch,
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    body = fixture_bytes("shopify/orders_create")
    order_id = order_id_for(store_id, ORDER_ID)

    # Its handling breaks on receipt: the delivery is kept as failed, with its body.
    async def broken(**_: Any) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(flows, "apply_shopify", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://order-sync") as raw:
        crashed = await post_shopify(raw, store_id, body, secret="k", webhook_id="x")
    assert crashed.status_code == 200
    assert (await final(crashed))["outcome"] == "failed"
    monkeypatch.undo()
    [kept] = (
        await client.get(
            "/v1/webhooks/deliveries", params={"store_id": store_id}, headers=auth("viewer")
        )
    ).json()["deliveries"]
    assert kept["outcome"] == "failed"
    replay_url = f"/v1/webhooks/deliveries/{kept['id']}:replay"

    first = await client.post(replay_url, headers=auth("admin"))
    second = await client.post(replay_url, headers=auth("admin"))

    assert first.status_code == 200, first.text
    assert ((await final(first))["outcome"], (await final(first))["order_id"]) == (
        "applied",
        order_id,
    )
    assert (second.status_code, (await final(second))["outcome"]) == (200, "unchanged")
    assert first.json()["replay"] != second.json()["replay"]
    records = await read_topic(settings.orders_topic, lambda rs: bool(of_order(rs, order_id)))
    # Placed (and cancelled: the documented order is) once, however often it is replayed.
    assert of_order(records, order_id) == ["crm.order.placed", "crm.order.cancelled"]
    read = await client.get(f"/v1/webhooks/deliveries/{kept['id']}", headers=auth("admin"))
    found = read.json()
    assert found["outcome"] == "failed"  # what happened on receipt stays recorded
    assert [(r["outcome"], r["replayed_by"]) for r in found["replays"]] == [
        ("applied", "test@order-sync"),
        ("unchanged", "test@order-sync"),
    ]
    viewer = await client.post(replay_url, headers=auth("viewer"))
    assert viewer.status_code == 403


async def test_what_cannot_be_replayed_is_refused_with_a_problem(
    client: httpx.AsyncClient,
    auth: Auth,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    store_id: str,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    body = fixture_bytes("shopify/orders_create")
    await post_shopify(client, store_id, body, secret="wrong", webhook_id="r")
    await post_shopify(client, store_id, b"{}", secret="k", topic="", webhook_id="t")
    await post_shopify(client, store_id, b"{}", secret="k", webhook_id="u")
    await post_shopify(client, store_id, b"{}", secret="k", topic="products/update", webhook_id="i")
    delivery = await ours(client, auth, store_id)

    def replay(delivery: int) -> Awaitable[httpx.Response]:
        return client.post(f"/v1/webhooks/deliveries/{delivery}:replay", headers=auth("admin"))

    refused = await replay(delivery["r"])
    assert (refused.status_code, refused.headers["content-type"]) == (409, PROBLEM)
    assert "rejected" in refused.json()["detail"]
    headless = await replay(delivery["t"])
    assert headless.status_code == 409
    assert "no topic" in headless.json()["detail"]
    still_unmapped = await replay(delivery["u"])
    assert still_unmapped.status_code == 422
    assert "total_price" in {e["field"] for e in still_unmapped.json()["errors"]}
    still_ignored = await replay(delivery["i"])
    assert (still_ignored.status_code, still_ignored.json()["outcome"]) == (202, "ignored")
    assert (await replay(999999999)).status_code == 404
    recorded = (
        await client.get(f"/v1/webhooks/deliveries/{delivery['u']}", headers=auth("admin"))
    ).json()
    assert [r["outcome"] for r in recorded["replays"]] == ["failed"]
