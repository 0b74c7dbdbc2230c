"""The timeline through the running service on real Kafka and PostgreSQL: orders, storefront
activity, tickets and messages in; `GET /v1/customers/{id}/timeline` and the profile's scores
out."""

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from crm_common.envelope import CloudEvent, format_rfc3339, to_json_bytes
from crm_common.testing.plugin import unique_topic
from crm_events.shop import FinancialStatus, FulfillmentStatus
from customer_profile.config import Settings
from customer_profile.main import create_app
from customer_profile.timeline.models import PendingActivity
from fastapi import FastAPI
from sqlalchemy import func, select

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Running:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    async def publish(self, topic: str, event: CloudEvent[Any], *, key: str) -> None:
        await self.app.state.runtime.broker.publish(to_json_bytes(event), topic, key=key.encode())

    async def pending(self) -> int:
        async with self.app.state.runtime.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(PendingActivity)))

    async def timeline(self, customer_id: str, **params: Any) -> httpx.Response:
        return await self.client.get(f"/v1/customers/{customer_id}/timeline", params=params)


@pytest.fixture
async def running(fresh_database, kafka_bootstrap, jwt_keys, auth) -> AsyncIterator[Running]:
    settings = Settings(
        database_url=fresh_database,
        kafka_bootstrap_servers=kafka_bootstrap,
        jwt_public_key=jwt_keys[1],
        orders_topic=unique_topic("test.crm.orders"),
        customers_topic=unique_topic("test.crm.customers"),
        activity_topic=unique_topic("test.shop.activity"),
        messages_topic=unique_topic("test.crm.messages"),
        tickets_topic=unique_topic("test.crm.tickets"),
        consumer_group=f"test-customer-profile-{secrets.token_hex(4)}",
        kafka_topic_partitions=2,
        outbox_poll_interval_seconds=0.1,
        consumer_retry_backoff_seconds=0.05,
        scoring_nightly=False,
    )
    app = create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://customer-profile",
            headers=auth("agent"),
        ) as client,
    ):
        yield Running(app, client, settings)


@contextlib.asynccontextmanager
async def collecting(bootstrap: str, topic: str) -> AsyncIterator[list[Any]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list[Any] = []

    async def pump() -> None:
        async for record in consumer:
            records.append(record)

    task = asyncio.create_task(pump())
    try:
        yield records
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


def shop_event(event_type: str, data: dict[str, Any]) -> CloudEvent[Any]:
    body = {k: format_rfc3339(v) if isinstance(v, datetime) else v for k, v in data.items()}
    return CloudEvent[dict[str, Any]](source="shop/s1", type=event_type, data=body)


async def test_a_customers_timeline_gathers_the_suite_newest_first(
    running: Running, make_order, order_event, eventually
) -> None:
    s = running.settings
    email = f"ann-{secrets.token_hex(3)}@example.com"
    viewed = shop_event(
        "shop.product.viewed",
        {
            "store_id": "s1",
            "customer": {"email": email.upper()},
            "product_id": "p-7",
            "viewed_at": NOW - timedelta(days=11),
        },
    )
    await running.publish(s.activity_topic, viewed, key="anonymous")

    async def parked() -> bool:
        return await running.pending() == 1

    await eventually(parked)

    order = make_order(
        store_id="s1", email=email, customer_ref="c-1", placed_at=NOW - timedelta(days=10)
    )
    await running.publish(s.orders_topic, order_event(order), key=order.order_id)

    async def customer_found() -> bool:
        response = await running.client.get("/v1/customers", params={"email": email})
        return response.status_code == 200 and len(response.json()["items"]) == 1

    await eventually(customer_found)
    found = await running.client.get("/v1/customers", params={"email": email})
    customer_id = found.json()["items"][0]["customer_id"]

    checkout = shop_event(
        "shop.checkout.started",
        {
            "store_id": "s1",
            "customer": {"external_id": "c-1"},
            "checkout_id": "co-1",
            "currency": "USD",
            "total": "32.00",
            "started_at": NOW - timedelta(days=9),
        },
    )
    ticket = CloudEvent[dict[str, Any]](
        source="support-ticket",
        type="crm.ticket.created",
        data={"ticket_id": "t-1", "customer_id": customer_id, "subject": "Ann's parcel"},
        time=NOW - timedelta(days=8),
    )
    message = CloudEvent[dict[str, Any]](
        source="campaign",
        type="crm.message.opened",
        data={"message_id": "m-1", "customer_id": customer_id, "channel": "email"},
        time=NOW - timedelta(days=7),
    )
    refunded = order.model_copy(
        update={
            "version": 2,
            "financial_status": FinancialStatus.REFUNDED,
            "refunded_total": order.total,
            "net_paid": Decimal(0),
            "updated_at": NOW - timedelta(days=6),
        }
    )
    await running.publish(s.activity_topic, checkout, key="c-1")
    await running.publish(s.tickets_topic, ticket, key="t-1")
    await running.publish(s.messages_topic, message, key=customer_id)
    await running.publish(
        s.orders_topic, order_event(refunded, "crm.order.refunded"), key=order.order_id
    )

    expected = [
        ("order.refunded", "order-sync", {"order_id": order.order_id}),
        ("message.opened", "campaign", {"message_id": "m-1"}),
        ("ticket.created", "support-ticket", {"ticket_id": "t-1"}),
        ("checkout.started", "shop/s1", {"checkout_id": "co-1"}),
        ("order.paid", "order-sync", {"order_id": order.order_id}),
        ("order.placed", "order-sync", {"order_id": order.order_id}),
        ("product.viewed", "shop/s1", {"product_id": "p-7"}),
    ]

    async def everything() -> bool:
        response = await running.timeline(customer_id, limit=200)
        return len(response.json()["items"]) == len(expected)

    await eventually(everything)
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = await running.timeline(
            customer_id, limit=3, **({"cursor": cursor} if cursor else {})
        )
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert [len(page["items"]) for page in pages] == [3, 3, 1]
    items = [item for page in pages for item in page["items"]]
    assert [(i["kind"], i["source"]) for i in items] == [(k, src) for k, src, _ in expected]
    for item, (_, _, reference) in zip(items, expected, strict=True):
        assert reference.items() <= item["reference"].items()
    assert items[0]["summary"]["refunded_total"] == "30.00"
    assert items[0]["occurred_at"] == (NOW - timedelta(days=6)).isoformat().replace("+00:00", "Z")
    assert items[2]["summary"] == {}  # a ticket's subject is never copied
    assert await running.pending() == 0
    invalid = await running.timeline(customer_id, cursor="bogus")
    assert invalid.status_code == 422
    assert [e["field"] for e in invalid.json()["errors"]] == ["query.cursor"]

    # Redeliveries add nothing: each is followed, on its own partition, by a new event whose
    # entry shows that the redelivery was consumed first.
    later = NOW - timedelta(days=1)
    await running.publish(s.activity_topic, checkout, key="c-1")
    await running.publish(
        s.activity_topic,
        shop_event(
            "shop.cart.updated",
            {
                "store_id": "s1",
                "customer": {"external_id": "c-1"},
                "cart_id": "k-1",
                "currency": "USD",
                "total": "0",
                "updated_at": NOW - timedelta(days=2),
            },
        ),
        key="c-1",
    )
    await running.publish(s.tickets_topic, ticket, key="t-1")
    ticket_solved = {"ticket_id": "t-1", "customer_id": customer_id, "status": "solved"}
    await running.publish(
        s.tickets_topic,
        CloudEvent[dict[str, Any]](
            source="support-ticket", type="crm.ticket.resolved", data=ticket_solved, time=later
        ),
        key="t-1",
    )
    await running.publish(s.orders_topic, order_event(order), key=order.order_id)
    await running.publish(
        s.orders_topic, order_event(refunded, "crm.order.refunded"), key=order.order_id
    )
    shipped = refunded.model_copy(
        update={
            "version": 3,
            "fulfillment_status": FulfillmentStatus.FULFILLED,
            "updated_at": NOW - timedelta(days=3),
        }
    )
    await running.publish(
        s.orders_topic, order_event(shipped, "crm.order.fulfilled"), key=order.order_id
    )

    async def sentinels_in() -> bool:
        response = await running.timeline(customer_id, limit=200)
        kinds = {item["kind"] for item in response.json()["items"]}
        return {"cart.updated", "ticket.resolved", "order.fulfilled"} <= kinds

    await eventually(sentinels_in)
    after = (await running.timeline(customer_id, limit=200)).json()["items"]
    assert [i["kind"] for i in after] == ["ticket.resolved", "cart.updated", "order.fulfilled"] + [
        k for k, _, _ in expected
    ]
    assert after[0]["summary"] == {"status": "solved"}

    profile = (await running.client.get(f"/v1/customers/{customer_id}")).json()
    assert profile["lifecycle_stage"] == "new"
    assert profile["value_tier"] == "bronze"
    assert profile["stats"]["total_spent"] == "0"
    [rfm] = profile["rfm"]
    assert (rfm["store_id"], rfm["currency"], rfm["frequency"], rfm["monetary"]) == (
        "s1",
        "USD",
        1,
        "0",
    )
    assert (rfm["recency_days"], rfm["score"], rfm["scored_by"]) == (10, None, "incremental")


async def test_the_timeline_answers_problems_and_dead_letters_what_it_cannot_place(
    running: Running, auth, eventually
) -> None:
    assert (await running.timeline("no-such-customer")).status_code == 404
    too_many = await running.timeline("x", limit=500)
    assert too_many.status_code == 422
    assert [e["field"] for e in too_many.json()["errors"]] == ["query.limit"]
    anonymous = await running.client.get("/v1/customers/x/timeline", headers={"authorization": ""})
    assert anonymous.status_code == 401

    s = running.settings
    async with collecting(s.kafka_bootstrap_servers, f"{s.tickets_topic}.dlq") as parked:
        unknown = CloudEvent[dict[str, Any]](
            source="support-ticket",
            type="crm.ticket.created",
            data={"ticket_id": "t-9", "customer_id": "never-issued"},
        )
        await running.publish(s.tickets_topic, unknown, key="t-9")

        async def dead_lettered() -> bool:
            return bool(parked)

        await eventually(dead_lettered)
    headers = {name: value.decode() for name, value in parked[0].headers}
    assert headers["x-dlq-error"] == "PermanentEventError"
    assert "no customer never-issued" in headers["x-dlq-reason"]
