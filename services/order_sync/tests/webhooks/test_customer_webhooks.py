"""Shop customer accounts relayed to shop.activity.v1 as shop.customer.upserted, on real
PostgreSQL and Kafka: each revision once, keyed by the shop customer reference."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from crm_events.registry import CONTRACTS
from fastapi import FastAPI
from order_sync.config import Settings
from prometheus_client import REGISTRY

pytestmark = pytest.mark.integration

Json = dict[str, Any]
Final = Callable[[httpx.Response], Awaitable[Json]]
Post = Callable[..., Awaitable[httpx.Response]]
ReadTopic = Callable[..., Awaitable[list[Any]]]
Poll = Callable[..., Awaitable[Any]]
UPSERTED = "shop.customer.upserted"


def upserted(records: list[Any]) -> list[tuple[str, Json]]:
    found = []
    for record in records:
        event = json.loads(record.value)
        if event["type"] == UPSERTED:
            found.append((record.key.decode(), event))
    return found


def passed_over() -> float:
    sample = REGISTRY.get_sample_value("order_sync_activity_ignored_total", {"type": UPSERTED})
    return sample or 0.0


async def test_shopify_accounts_are_announced_once_per_revision(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    read_topic: ReadTopic,
    eventually: Poll,
    store_id: str,
    final: Final,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    created = fixture_bytes("shopify/customers_create")
    changed = created.replace(
        b'"updated_at": "2021-12-31T19:00:00-05:00"', b'"updated_at": "2022-01-02T08:00:00Z"'
    ).replace(b'"note":', b'"tags": "vip, newsletter", "note":')
    assert changed.count(b"2022-01-02T08:00:00Z") == changed.count(b"vip, newsletter") == 1
    ref = f"{store_id}:706405506930370000"
    ignored_before = passed_over()

    answers = [
        await post_shopify(client, store_id, body, secret="k", topic=topic, webhook_id=webhook_id)
        for body, topic, webhook_id in [
            (created, "customers/create", "a"),
            (created, "customers/update", "b"),  # the same revision again, another webhook
            (changed, "customers/update", "c"),
            (created, "customers/update", "d"),  # late: older than the one announced
        ]
    ]

    assert [(r.status_code, (await final(r))["outcome"]) for r in answers] == [
        (200, "applied"),
        (200, "unchanged"),
        (200, "applied"),
        (200, "unchanged"),
    ]
    assert ref in (await final(answers[0]))["detail"]
    assert (await final(answers[0]))["order_id"] is None
    records = await read_topic(settings.activity_topic, lambda rs: len(upserted(rs)) >= 2)
    announced = upserted(records)
    assert [key for key, _ in announced] == [ref, ref]
    first, second = (event for _, event in announced)
    for event in (first, second):
        CONTRACTS.validate(event)
        assert (event["source"], event["subject"]) == ("order-sync", ref)
    assert first["data"]["customer"]["external_id"] == "706405506930370000"
    assert first["data"]["customer"]["email"] == "bob@biller.com"
    assert first["data"]["addresses"][0]["postal_code"] == "K2P 2L8"
    assert (first["data"]["tags"], second["data"]["tags"]) == ([], ["vip", "newsletter"])
    assert second["data"]["updated_at"] == "2022-01-02T08:00:00Z"
    assert first["id"] != second["id"]
    # order-sync consumes shop.activity.v1 too: it passes its own relays over, never
    # dead-letters them.
    await eventually(lambda: _passed_over_more_than(ignored_before + 1), what="passed over")
    outcomes = [d["outcome"] for d in await stored_deliveries(app, store_id)]
    assert outcomes == ["applied", "unchanged", "applied", "unchanged"]


async def _passed_over_more_than(count: float) -> bool:
    return passed_over() >= count


async def test_woocommerce_accounts_are_announced_and_deletions_recorded(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_woocommerce: Post,
    stored_deliveries: Callable[..., Awaitable[list[Json]]],
    read_topic: ReadTopic,
    store_id: str,
    final: Final,
    failed_fields: Callable[[Json], list[str]],
) -> None:
    await register_store(client, store_id, platform="woocommerce", webhook_secret="k")
    body = fixture_bytes("woocommerce/customer_created_docs_v3")

    created = await post_woocommerce(
        client, store_id, body, secret="k", topic="customer.created", delivery_id="d1"
    )
    deleted = await post_woocommerce(
        client, store_id, b'{"id":25}', secret="k", topic="customer.deleted", delivery_id="d2"
    )
    unmappable = await post_woocommerce(
        client,
        store_id,
        b'{"email":"x@example.com"}',
        secret="k",
        topic="customer.updated",
        delivery_id="d3",
    )

    assert (created.status_code, (await final(created))["outcome"]) == (200, "applied")
    assert (deleted.status_code, (await final(deleted))["outcome"]) == (202, "ignored")
    assert "no erasure request" in (await final(deleted))["detail"]
    assert unmappable.status_code == 200
    assert set(failed_fields(await final(unmappable))) == {"id", "date_modified_gmt"}
    records = await read_topic(settings.activity_topic, lambda rs: bool(upserted(rs)))
    [(key, event)] = upserted(records)
    assert key == f"{store_id}:25"
    CONTRACTS.validate(event)
    assert event["data"]["customer"] == {
        "external_id": "25",
        "email": "john.doe@example.com",
        "phone": "(555) 555-5555",
        "first_name": "John",
        "last_name": "Doe",
    }
    assert event["data"]["accepts_marketing"] is None
    kept = [(d["topic"], d["outcome"]) for d in await stored_deliveries(app, store_id)]
    assert kept == [
        ("customer.created", "applied"),
        ("customer.deleted", "ignored"),
        ("customer.updated", "failed"),
    ]
