"""The whole service on real Kafka and PostgreSQL, for the profile's read model: search, tags
and traits, addresses."""

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from crm_common.auth import issue_token
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.testing.plugin import unique_topic
from crm_events.order import OrderSnapshot
from crm_events.registry import CONTRACTS
from customer_profile.config import Settings
from customer_profile.main import create_app
from fastapi import FastAPI

T = TypeVar("T")
NOW = datetime.now(UTC)


async def eventually(probe: Callable[[], Awaitable[T]], timeout: float = 45.0) -> T:
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
class Running:
    app: FastAPI
    client: httpx.AsyncClient
    """Authenticated as an admin; `as_role` gives headers of another role."""
    settings: Settings
    make_order: Callable[..., OrderSnapshot]
    order_event: Callable[..., CloudEvent[dict[str, Any]]]
    private_key: str
    records: list[Any] = field(default_factory=list)
    """Every record of the customers topic so far."""

    eventually = staticmethod(eventually)

    def as_role(self, *roles: str) -> dict[str, str]:
        token = issue_token(self.private_key, subject="tester@example.com", roles=list(roles))
        return {"authorization": f"Bearer {token}"}

    @property
    def events(self) -> list[dict[str, Any]]:
        found = [json.loads(record.value) for record in self.records]
        for envelope in found:
            CONTRACTS.validate(envelope)
        return found

    async def order(self, days_ago: float = 0, **fields: Any) -> OrderSnapshot:
        """Publish a new order placed `days_ago` days before the test run."""
        order = self.make_order(placed_at=NOW - timedelta(days=days_ago), **fields)
        await self.publish(order)
        return order

    async def publish(self, order: OrderSnapshot, event_type: str = "crm.order.placed") -> None:
        broker = self.app.state.runtime.broker
        body = to_json_bytes(self.order_event(order, event_type))
        await broker.publish(body, self.settings.orders_topic, key=order.order_id.encode())

    async def customer_of(self, email: str, *, orders: int | None = None) -> dict[str, Any]:
        """Once exactly one customer has `email` (and `orders` orders, if given)."""

        async def found() -> dict[str, Any]:
            response = await self.client.get("/v1/customers", params={"email": email})
            assert response.status_code == 200, response.text
            items: list[dict[str, Any]] = response.json()["items"]
            assert len(items) == 1
            if orders is not None:
                assert items[0]["stats"]["orders_count"] == orders
            return items[0]

        return await eventually(found)

    async def search(self, **params: Any) -> dict[str, Any]:
        response = await self.client.get("/v1/customers:search", params=params)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    async def ids(self, **params: Any) -> list[str]:
        """The customer ids of every page of a search, following the cursors."""
        found: list[str] = []
        cursor = None
        while True:
            page = await self.search(**params, **({"cursor": cursor} if cursor else {}))
            found += [item["customer_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return found


@contextlib.asynccontextmanager
async def _collecting(bootstrap: str, topic: str, into: list[Any]) -> AsyncIterator[None]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()

    async def pump() -> None:
        async for record in consumer:
            into.append(record)

    task = asyncio.create_task(pump())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


@pytest.fixture
async def running(
    fresh_database: str,
    kafka_bootstrap: str,
    jwt_keys: tuple[str, str],
    make_order: Callable[..., OrderSnapshot],
    order_event: Callable[..., CloudEvent[dict[str, Any]]],
) -> AsyncIterator[Running]:
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
    token = issue_token(jwt_keys[0], subject="admin@example.com", roles=["admin"])
    records: list[Any] = []
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://customer-profile",
            headers={"authorization": f"Bearer {token}"},
        ) as client,
        _collecting(kafka_bootstrap, settings.customers_topic, records),
    ):
        yield Running(app, client, settings, make_order, order_event, jwt_keys[0], records)
