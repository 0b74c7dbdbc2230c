"""The whole service on real Kafka and PostgreSQL: orders in, customers out, the HTTP API."""

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from crm_common.auth import issue_token
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.testing.plugin import unique_topic
from crm_events.registry import CONTRACTS
from customer_profile.config import Settings
from customer_profile.main import create_app
from fastapi import FastAPI

pytestmark = pytest.mark.integration

T = TypeVar("T")
DEADLINE_SECONDS = 45.0


async def eventually(probe: Callable[[], Awaitable[T]], timeout: float = DEADLINE_SECONDS) -> T:
    """`probe()`'s result once it stops failing an assertion; fails after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await probe()
        except AssertionError:
            if loop.time() > deadline:
                raise
        await asyncio.sleep(0.1)


@dataclass
class Collector:
    """Every record of one topic, read from the beginning in the background."""

    records: list[Any] = field(default_factory=list)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(record.value) for record in self.records]


@contextlib.asynccontextmanager
async def collecting(bootstrap: str, topic: str) -> AsyncIterator[Collector]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    collector = Collector()

    async def pump() -> None:
        async for record in consumer:
            collector.records.append(record)

    task = asyncio.create_task(pump())
    try:
        yield collector
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


@dataclass
class Running:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    customers: Collector

    async def publish(self, event: CloudEvent[Any], *, key: str) -> None:
        broker = self.app.state.runtime.broker
        await broker.publish(to_json_bytes(event), self.settings.orders_topic, key=key.encode())


@pytest.fixture
def settings(fresh_database: str, kafka_bootstrap: str, jwt_keys: tuple[str, str]) -> Settings:
    return Settings(
        database_url=fresh_database,
        kafka_bootstrap_servers=kafka_bootstrap,
        jwt_public_key=jwt_keys[1],
        orders_topic=unique_topic("test.crm.orders"),
        customers_topic=unique_topic("test.crm.customers"),
        consumer_group=f"test-customer-profile-{secrets.token_hex(4)}",
        kafka_topic_partitions=2,
        outbox_poll_interval_seconds=0.1,
        consumer_retry_backoff_seconds=0.05,
    )


@pytest.fixture
async def running(settings: Settings, jwt_keys: tuple[str, str]) -> AsyncIterator[Running]:
    # An agent: it sees the personal data it checks (a viewer sees it masked, access.py).
    token = issue_token(jwt_keys[0], subject="tester", roles=["agent"])
    app = create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://customer-profile",
            headers={"authorization": f"Bearer {token}"},
        ) as client,
        collecting(settings.kafka_bootstrap_servers, settings.customers_topic) as customers,
    ):
        yield Running(app, client, settings, customers)


async def find(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/customers", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_orders_from_two_stores_for_one_person_give_one_customer(
    running: Running, make_order, order_event
) -> None:
    first = make_order(
        store_id="store-a",
        email="Ada.Lovelace@Example.com",
        phone="+1 415 555 0100",
        customer_ref="a-1",
        total="30.00",
    )
    second = make_order(
        store_id="store-b",
        email="  ada.lovelace@EXAMPLE.COM",
        phone="(415) 555-0100",
        customer_ref="b-9",
        shipping_country="US",
        total="19.99",
        placed_at=first.placed_at.replace(day=9),
        last_name="King",
    )
    await running.publish(order_event(first), key=first.order_id)
    await running.publish(order_event(second, "crm.order.paid"), key=second.order_id)

    async def both_orders_counted() -> dict[str, Any]:
        found = await find(running.client, phone="(415) 555-0100", region="US")
        assert len(found) == 1
        assert found[0]["stats"]["orders_count"] == 2
        return found[0]

    customer = await eventually(both_orders_counted)
    customer_id = customer["customer_id"]
    assert customer["email"] == "ada.lovelace@example.com"
    assert customer["phone"] == "+14155550100"
    assert customer["last_name"] == "King"
    assert customer["stats"] == {
        "orders_count": 2,
        "total_spent": "49.99",
        "currency": "USD",
        "first_order_at": "2026-03-01T12:00:00Z",
        "last_order_at": "2026-03-09T12:00:00Z",
    }
    assert {(i["kind"], i["value"], i["store_id"]) for i in customer["identities"]} == {
        ("email", "ada.lovelace@example.com", None),
        ("phone", "+14155550100", None),
        ("store_ref", "a-1", "store-a"),
        ("store_ref", "b-9", "store-b"),
    }
    for lookup in (
        {"email": "ADA.LOVELACE@example.com"},
        {"phone": "+14155550100"},
        {"store_id": "store-b", "external_id": "b-9"},
    ):
        assert [c["customer_id"] for c in await find(running.client, **lookup)] == [customer_id]
    by_id = await running.client.get(f"/v1/customers/{customer_id}")
    assert by_id.status_code == 200
    assert by_id.json() == customer

    async def announced() -> list[dict[str, Any]]:
        events = running.customers.events
        assert [e["data"].get("version") for e in events if e["type"].endswith("updated")] == [2]
        return events

    events = await eventually(announced)
    for envelope in events:
        CONTRACTS.validate(envelope)
    assert {e["subject"] for e in events} == {customer_id}
    assert {r.key for r in running.customers.records} == {customer_id.encode()}
    assert sorted(e["type"] for e in events) == sorted(
        ["crm.customer.created"]
        + ["crm.customer.identity_linked"] * 4
        + ["crm.customer.order_attributed"] * 2
        + ["crm.customer.updated"]
    )
    assert events[-1]["data"]["stats"]["total_spent"] == "49.99"


async def test_a_redelivered_event_changes_nothing(
    running: Running, make_order, order_event
) -> None:
    order = make_order(email=f"grace-{secrets.token_hex(3)}@example.com", total="80.00")
    placed = order_event(order)
    await running.publish(placed, key=order.order_id)

    async def attributed() -> list[dict[str, Any]]:
        events = running.customers.events
        assert "crm.customer.order_attributed" in [e["type"] for e in events]
        return events

    before = await eventually(attributed)
    customer_id = before[0]["subject"]

    # The same event again, then a refund of the same order: same key, same partition, so
    # once the refund shows the redelivery has been consumed too.
    await running.publish(placed, key=order.order_id)
    refunded = order.model_copy(
        update={"version": 2, "refunded_total": Decimal("30.00"), "net_paid": Decimal("50.00")}
    )
    await running.publish(order_event(refunded, "crm.order.refunded"), key=order.order_id)

    async def refund_announced() -> list[dict[str, Any]]:
        events = running.customers.events
        assert len(events) > len(before)
        return events

    after = await eventually(refund_announced)
    new = after[len(before) :]
    assert [(e["type"], e["data"]["version"]) for e in new] == [("crm.customer.updated", 2)]
    assert new[0]["data"]["stats"]["total_spent"] == "50.00"
    response = await running.client.get(f"/v1/customers/{customer_id}")
    assert response.json()["version"] == 2
    assert response.json()["stats"]["orders_count"] == 1


async def test_an_order_without_a_usable_identity_is_dead_lettered(
    running: Running, make_order, order_event
) -> None:
    unusable = make_order(email="nobody-at-example.com", phone="n/a", customer_ref=None)
    dlq = f"{running.settings.orders_topic}.dlq"
    async with collecting(running.settings.kafka_bootstrap_servers, dlq) as parked:
        await running.publish(order_event(unusable), key=unusable.order_id)

        async def dead_lettered() -> Any:
            assert parked.records
            return parked.records[0]

        record = await eventually(dead_lettered)
    headers = {name: value.decode() for name, value in record.headers}
    assert headers["x-dlq-error"] == "PermanentEventError"
    assert "no valid email, phone or shop customer id" in headers["x-dlq-reason"]
    assert json.loads(record.value)["data"]["order_id"] == unusable.order_id
    assert running.customers.events == []


async def test_the_api_answers_problems(running: Running) -> None:
    none = await running.client.get("/v1/customers")
    assert none.status_code == 422
    assert none.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in none.json()["errors"]} == {
        "query.email",
        "query.phone",
        "query.store_id",
        "query.external_id",
    }
    half = await running.client.get("/v1/customers", params={"store_id": "s"})
    assert [e["field"] for e in half.json()["errors"]] == ["query.external_id"]
    local = await running.client.get("/v1/customers", params={"phone": "(415) 555-0100"})
    assert [e["field"] for e in local.json()["errors"]] == ["query.phone"]

    assert await find(running.client, email="unknown@example.com") == []
    missing = await running.client.get("/v1/customers/no-such-customer")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "customer no-such-customer not found"

    anonymous = await running.client.get(
        "/v1/customers/no-such-customer", headers={"authorization": ""}
    )
    assert anonymous.status_code == 401
