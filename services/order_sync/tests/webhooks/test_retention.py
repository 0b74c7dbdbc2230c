"""Retention of stored webhook deliveries: bodies purged, records deleted, in batches, by
several replicas at once."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.webhooks.deliveries.retention import DeliveryRetention
from pydantic import ValidationError
from sqlalchemy import text

Json = dict[str, Any]
Post = Callable[..., Awaitable[httpx.Response]]
Auth = Callable[..., dict[str, str]]


async def age(app: FastAPI, store_id: str, delivery_id: str, days: float) -> None:
    """Make a delivery look `days` older than it is."""
    async with app.state.runtime.sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE webhook_deliveries SET received_at = received_at - make_interval("
                "secs => :s) WHERE store_id = :store AND delivery_id = :d"
            ),
            {"s": days * 86400, "store": store_id, "d": delivery_id},
        )


async def rows(app: FastAPI, store_id: str) -> dict[str, Json]:
    async with app.state.runtime.sessions() as session:
        found = await session.execute(
            text(
                "SELECT delivery_id, outcome, octet_length(body) AS size, body_purged_at "
                "FROM webhook_deliveries WHERE store_id = :s"
            ),
            {"s": store_id},
        )
        return {row.delivery_id: dict(row._mapping) for row in found}


@pytest.mark.integration
async def test_bodies_then_records_go_when_their_time_is_up(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: Auth,
    register_store: Callable[..., Awaitable[httpx.Response]],
    fixture_bytes: Callable[[str], bytes],
    post_shopify: Post,
    store_id: str,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    body = fixture_bytes("shopify/orders_create")
    sent: dict[str, bytes] = {}
    for webhook_id, secret in [("a", "k"), ("b", "no"), ("c", "k"), ("d", "k"), ("e", "no")]:
        sent[webhook_id] = body.replace(b"820982911946154500", f'"{webhook_id}"'.encode(), 1)
        await post_shopify(client, store_id, sent[webhook_id], secret=secret, webhook_id=webhook_id)
    ids = await _ids(client, auth, store_id)
    replayed = await client.post(
        f"/v1/webhooks/deliveries/{ids['c']}:replay", headers=auth("admin")
    )
    assert replayed.status_code == 200
    await age(app, store_id, "a", 31)  # accepted: body past 30 days, record within 90
    await age(app, store_id, "b", 8)  # rejected, past 7 days
    await age(app, store_id, "c", 91)  # accepted, record past 90 days (with its replay)
    await age(app, store_id, "e", 6)  # rejected, within 7 days

    result = await app.state.webhook_retention.run_once()

    assert (result.bodies_purged, result.rejected_deleted, result.records_deleted) == (1, 1, 1)
    left = await rows(app, store_id)
    assert sorted(left) == ["a", "d", "e"]
    assert (left["a"]["size"], left["a"]["outcome"]) == (0, "applied")
    assert left["a"]["body_purged_at"] is not None
    assert left["d"]["size"] == len(sent["d"])
    assert left["d"]["body_purged_at"] is None
    read = (await client.get(f"/v1/webhooks/deliveries/{ids['a']}", headers=auth("admin"))).json()
    assert (read["body_state"], read["body"], read["body_size"]) == ("purged", None, None)
    assert read["body_purged_at"] is not None
    refused = await client.post(f"/v1/webhooks/deliveries/{ids['a']}:replay", headers=auth("admin"))
    assert refused.status_code == 409
    assert "retention" in refused.json()["detail"]
    gone = await client.get(f"/v1/webhooks/deliveries/{ids['c']}", headers=auth("admin"))
    assert gone.status_code == 404
    async with app.state.runtime.sessions() as session:
        replays = await session.scalar(text("SELECT count(*) FROM webhook_replays"))
    assert replays == 0

    again = await app.state.webhook_retention.run_once()
    assert (again.bodies_purged, again.rejected_deleted, again.records_deleted) == (0, 0, 0)


async def _ids(client: httpx.AsyncClient, auth: Auth, store_id: str) -> dict[str, int]:
    response = await client.get(
        "/v1/webhooks/deliveries", params={"store_id": store_id}, headers=auth("viewer")
    )
    return {d["delivery_id"]: d["id"] for d in response.json()["deliveries"]}


@pytest.mark.integration
async def test_replicas_share_the_work_in_batches_and_skip_what_is_locked(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    register_store: Callable[..., Awaitable[httpx.Response]],
    post_shopify: Post,
    store_id: str,
) -> None:
    await register_store(client, store_id, platform="shopify", webhook_secret="k")
    for n in range(11):
        await post_shopify(
            client, store_id, b"{}", secret="k", topic="shop/update", webhook_id=f"{n}"
        )
        await age(app, store_id, f"{n}", 40)
    sessions = app.state.runtime.sessions

    def replica() -> DeliveryRetention:
        return DeliveryRetention(
            sessions, body_days=30, record_days=90, rejected_days=7, interval=3600, batch_size=2
        )

    async with sessions() as holder, holder.begin():
        # Another transaction (a replay, say) holds one row: it is skipped, not waited for.
        await holder.execute(
            text(
                "SELECT id FROM webhook_deliveries WHERE store_id = :s AND delivery_id = '0' "
                "FOR UPDATE"
            ),
            {"s": store_id},
        )
        results = await asyncio.wait_for(
            asyncio.gather(replica().run_once(), replica().run_once(), replica().run_once()),
            timeout=30,
        )
    assert sum(r.bodies_purged for r in results) == 10
    left = await rows(app, store_id)
    assert [d for d, row in left.items() if row["body_purged_at"] is None] == ["0"]

    later = await replica().run_once()
    assert later.bodies_purged == 1
    assert all(row["body_purged_at"] is not None for row in (await rows(app, store_id)).values())


def test_records_must_outlive_bodies(offline_settings: Settings) -> None:
    with pytest.raises(ValidationError, match="webhook_record_retention_days"):
        Settings(
            database_url=offline_settings.database_url,
            jwt_public_key=offline_settings.jwt_public_key,
            webhook_body_retention_days=30,
            webhook_record_retention_days=10,
        )
    assert offline_settings.webhook_body_retention_days == 30
    assert offline_settings.webhook_record_retention_days == 90
    assert offline_settings.webhook_rejected_retention_days == 7
