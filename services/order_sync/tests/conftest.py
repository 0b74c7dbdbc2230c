"""Fixtures for order-sync's tests: settings on fresh infrastructure, the app, tokens, payloads.

With `--import-mode=importlib` test modules cannot import each other, so shared helpers are
handed out as fixtures.
"""

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from asgi_lifespan import LifespanManager
from crm_common.auth import issue_token
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.testing.plugin import Records, create_database, drop_database, unique_topic
from crm_events.shop import CANONICAL_ORDER_EXAMPLE
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.main import create_app
from order_sync.orders.events import order_id_for
from order_sync.orders.service import SHOP_ORDERS_CONSUMER
from sqlalchemy import text

Settle = Callable[[int], Awaitable[dict[str, Any]]]
SubmitOrders = Callable[..., Awaitable[int | None]]


@pytest.fixture
def make_order() -> Callable[..., dict[str, Any]]:
    """A valid canonical order as JSON: the contract's example, for `store_id`, with overrides."""

    def make(store_id: str, external_id: str = "1001", **overrides: Any) -> dict[str, Any]:
        order: dict[str, Any] = json.loads(json.dumps(CANONICAL_ORDER_EXAMPLE))
        order.update(store_id=store_id, external_id=external_id)
        order.update(overrides)
        return order

    return make


@pytest.fixture
def store_id() -> str:
    return f"shop-{secrets.token_hex(4)}"


@pytest.fixture
def auth(jwt_keys: tuple[str, str]) -> Callable[..., dict[str, str]]:
    """Authorization headers for a token holding `roles`."""

    def headers(*roles: str) -> dict[str, str]:
        token = issue_token(jwt_keys[0], subject="test@order-sync", roles=list(roles))
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def offline_settings(jwt_keys: tuple[str, str]) -> Settings:
    """Settings for tests that never start the app's resources (no infrastructure needed)."""
    return Settings(
        database_url="postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none",
        kafka_bootstrap_servers="127.0.0.1:1",
        jwt_public_key=jwt_keys[1],
    )


@pytest.fixture
async def offline_client(offline_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose lifespan never ran: for what is decided before any I/O."""
    app = create_app(offline_settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://order-sync") as client:
        yield client


def _settings(database_url: str, kafka_bootstrap: str, jwt_public_key: str) -> Settings:
    """Settings on `database_url` and topics of their own."""
    return Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        jwt_public_key=jwt_public_key,
        shop_orders_topic=unique_topic("test.shop.orders.v1"),
        orders_topic=unique_topic("test.crm.orders.v1"),
        activity_topic=unique_topic("test.shop.activity.v1"),
        carts_topic=unique_topic("test.crm.carts.v1"),
        inventory_topic=unique_topic("test.crm.inventory.v1"),
        # Short enough for the abandonment tests to see the sweeper act.
        checkout_abandon_after_seconds=1.0,
        checkout_sweep_interval_seconds=0.2,
        kafka_topic_partitions=2,
        outbox_poll_interval_seconds=0.2,
        consumer_retry_backoff_seconds=0.01,
        webhook_apply_interval_seconds=0.2,
    )


async def _delete_topics(settings: Settings, kafka_bootstrap: str) -> None:
    """Delete the settings' topics (and their dead-letter topics)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        ours = {
            settings.shop_orders_topic,
            settings.orders_topic,
            settings.activity_topic,
            settings.carts_topic,
            settings.inventory_topic,
        }
        doomed = [t for t in existing if t in ours or t.removesuffix(".dlq") in ours]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


@pytest.fixture
async def settings(
    fresh_database: str, kafka_bootstrap: str, jwt_keys: tuple[str, str]
) -> AsyncIterator[Settings]:
    """Settings on a database and topics of this test's own; the topics are deleted after."""
    settings = _settings(fresh_database, kafka_bootstrap, jwt_keys[1])
    yield settings
    await _delete_topics(settings, kafka_bootstrap)


@pytest.fixture(scope="module")
async def module_settings(
    postgres_url: str, kafka_bootstrap: str, jwt_keys: tuple[str, str]
) -> AsyncIterator[Settings]:
    """Like `settings`, shared by a module's tests (one app for them all): the fuzz tests."""
    database = await create_database(postgres_url, "test")
    settings = _settings(database, kafka_bootstrap, jwt_keys[1])
    yield settings
    await _delete_topics(settings, kafka_bootstrap)
    await drop_database(postgres_url, database)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=90, shutdown_timeout=30):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://order-sync") as client:
        yield client


@pytest.fixture
def register_store(
    auth: Callable[..., dict[str, str]],
) -> Callable[..., Awaitable[httpx.Response]]:
    async def register(client: httpx.AsyncClient, store_id: str, **fields: Any) -> httpx.Response:
        body = {
            "store_id": store_id,
            "platform": "custom",
            "name": "Test shop",
            "currency": "USD",
            **fields,
        }
        response = await client.post("/v1/stores", json=body, headers=auth("admin"))
        assert response.status_code == 201, response.text
        return response

    return register


@pytest.fixture
def db_rows(app: FastAPI) -> Callable[..., Awaitable[list[tuple[Any, ...]]]]:
    """The rows a SQL statement (with named parameters) gives on the app's database."""

    async def rows(sql: str, **params: Any) -> list[tuple[Any, ...]]:
        async with app.state.runtime.sessions() as session:
            return [tuple(row) for row in await session.execute(text(sql), params)]

    return rows


@pytest.fixture
async def produce(kafka_bootstrap: str) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    """Publish a raw record (bytes, or a CloudEvent) and wait for the broker's acknowledgement."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()

    async def send(topic: str, value: bytes | CloudEvent[Any], *, key: str | None = None) -> None:
        raw = value if isinstance(value, bytes) else to_json_bytes(value)
        await producer.send_and_wait(topic, raw, key=key.encode() if key else None)

    yield send
    await producer.stop()


@pytest.fixture
def settled(app: FastAPI, eventually: Callable[..., Awaitable[Any]]) -> Settle:
    """What became of a received webhook delivery (by our id) once it was applied behind its
    answer: `{"delivery", "outcome", "order_id", "detail"}` as its row holds them."""

    async def settle(delivery: int) -> dict[str, Any]:
        async def outcome() -> dict[str, Any] | None:
            async with app.state.runtime.sessions() as session:
                row = (
                    (
                        await session.execute(
                            text(
                                "SELECT id AS delivery, outcome, order_id, detail"
                                " FROM webhook_deliveries WHERE id = :id"
                            ),
                            {"id": delivery},
                        )
                    )
                    .mappings()
                    .one()
                )
            return None if row["outcome"] == "received" else dict(row)

        found: dict[str, Any] = await eventually(outcome, what=f"delivery {delivery} applied")
        return found

    return settle


@pytest.fixture
def submit_order(
    app: FastAPI, auth: Callable[..., dict[str, str]], eventually: Callable[..., Awaitable[Any]]
) -> SubmitOrders:
    """POST each of `orders` to /v1/orders at once, expect each accepted, and wait until the
    shop-orders consumer has applied them all; returns the stored version of the first one's
    order then (None when it is not stored)."""

    async def applied() -> int:
        async with app.state.runtime.sessions() as session:
            found = await session.scalar(
                text("SELECT count(*) FROM processed_events WHERE consumer = :c"),
                {"c": SHOP_ORDERS_CONSUMER},
            )
            return int(found or 0)

    async def submit(client: httpx.AsyncClient, *orders: dict[str, Any]) -> int | None:
        before = await applied()
        responses = await asyncio.gather(
            *(client.post("/v1/orders", json=order, headers=auth("admin")) for order in orders)
        )
        for order, response in zip(orders, responses, strict=True):
            assert response.status_code == 202, response.text
            order_id = order_id_for(order["store_id"], order["external_id"])
            assert response.json() == {"order_id": order_id, "status": "accepted"}

        async def done() -> bool:
            return await applied() >= before + len(orders)

        await eventually(done, what=f"{len(orders)} order(s) applied")
        async with app.state.runtime.sessions() as session:
            version = await session.scalar(
                text("SELECT version FROM orders WHERE order_id = :o"),
                {"o": order_id_for(orders[0]["store_id"], orders[0]["external_id"])},
            )
        return int(version) if version is not None else None

    return submit


@pytest.fixture
def eventually() -> Callable[..., Awaitable[Any]]:
    """Call `probe` until it returns something truthy, or fail at the deadline."""

    async def poll(
        probe: Callable[[], Awaitable[Any]], *, timeout: float = 45.0, what: str = "condition"
    ) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = await probe()
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{what} not met after {timeout}s (last: {result!r})")
            await asyncio.sleep(0.1)

    return poll


def events_of(records: Records, order_id: str) -> list[dict[str, Any]]:
    """The CloudEvents in `records` about `order_id`, in partition order."""
    events = [json.loads(record.value) for record in records if record.value is not None]
    return [event for event in events if event.get("subject") == order_id]


@pytest.fixture
def order_events() -> Callable[[Records, str], list[dict[str, Any]]]:
    return events_of
