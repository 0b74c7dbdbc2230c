import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from analytics.config import Settings
from analytics.facts import service
from analytics.main import MIGRATIONS, create_app
from asgi_lifespan import LifespanManager
from crm_common import db
from crm_common.envelope import CloudEvent, parse_envelope, to_json_bytes
from crm_common.testing.plugin import (
    Poll,
    create_database,
    drop_database,
    unique_topic,
)
from crm_events.customer import (
    CUSTOMER_MERGED,
    CUSTOMER_ORDER_ATTRIBUTED,
    CUSTOMER_UNMERGED,
    CustomerMerged,
    CustomerOrderAttributed,
    CustomerUnmerged,
)
from crm_events.order import ORDER_CONTRACTS, OrderSnapshot
from crm_events.topics import CRM_CUSTOMERS, CRM_INSIGHTS, CRM_ORDERS
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_ORDER_CONTRACT = {contract.type: contract for contract in ORDER_CONTRACTS}


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def order_snapshot(
    *,
    store_id: str,
    placed_at: datetime,
    net_paid: str = "10.00",
    customer_ref: str | None = None,
    order_id: str | None = None,
    version: int = 1,
    currency: str = "USD",
    cancelled_at: datetime | None = None,
) -> OrderSnapshot:
    """An order-sync snapshot; the customer's contact details are there so that tests can show
    analytics leaves them behind."""
    paid = Decimal(net_paid) > 0
    return OrderSnapshot.model_validate(
        {
            "order_id": order_id or new_id("order"),
            "store_id": store_id,
            "external_id": new_id("shop-order"),
            "placed_at": placed_at,
            "currency": currency,
            "financial_status": "paid" if paid else "pending",
            "cancelled_at": cancelled_at,
            "customer": {
                "external_id": customer_ref,
                "email": "ann@example.com",
                "first_name": "Ann",
            },
            "lines": [{"name": "Mug", "quantity": 1, "unit_price": net_paid}],
            "total": net_paid,
            "net_paid": net_paid,
            "version": version,
        }
    )


def order_event(snapshot: OrderSnapshot, event_type: str = "crm.order.placed") -> CloudEvent[Any]:
    contract = _ORDER_CONTRACT[event_type]
    return contract.event(contract.model.model_validate(snapshot.model_dump()), source="test")


def attribution_event(
    *, order_id: str, customer_id: str, store_id: str, time: datetime | None = None
) -> CloudEvent[Any]:
    data = CustomerOrderAttributed(
        customer_id=customer_id,
        order_id=order_id,
        store_id=store_id,
        order_external_id=new_id("shop-order"),
    )
    extra = {"time": time} if time is not None else {}
    return CUSTOMER_ORDER_ATTRIBUTED.event(data, source="test", **extra)


def merge_event(
    *, merged_id: str, survivor_id: str, merge_id: str | None = None
) -> CloudEvent[Any]:
    data = CustomerMerged(
        merge_id=merge_id or new_id("merge"),
        merged_id=merged_id,
        survivor_id=survivor_id,
        merged_at=datetime.now(UTC),
    )
    return CUSTOMER_MERGED.event(data, source="test")


def unmerge_event(
    *,
    merge: CloudEvent[Any],
    order_ids: list[str],
    time: datetime | None = None,
) -> CloudEvent[Any]:
    """The undo of `merge` (a merge event), giving `order_ids` back to its merged customer."""
    merged = merge.data
    assert isinstance(merged, CustomerMerged)
    data = CustomerUnmerged(
        merge_id=merged.merge_id,
        survivor_id=merged.survivor_id,
        merged_id=merged.merged_id,
        unmerged_at=time or datetime.now(UTC),
        order_ids=order_ids,
    )
    extra = {"time": time} if time is not None else {}
    return CUSTOMER_UNMERGED.event(data, source="test", **extra)


def _settings(database_url: str, kafka_bootstrap: str, jwt_public_key: str) -> Settings:
    return Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        jwt_public_key=jwt_public_key,
        consumer_group=new_id("analytics-test"),
        consumer_retry_backoff_seconds=0.05,
        orders_topic=unique_topic(f"test.{CRM_ORDERS}"),
        customers_topic=unique_topic(f"test.{CRM_CUSTOMERS}"),
        insights_topic=unique_topic(f"test.{CRM_INSIGHTS}"),
    )


@pytest.fixture
def settings(fresh_database: str, kafka_bootstrap: str, jwt_keys: tuple[str, str]) -> Settings:
    """The service on topics of its own, so no other producer or consumer interferes."""
    return _settings(fresh_database, kafka_bootstrap, jwt_keys[1])


@pytest.fixture(scope="module")
async def module_settings(
    postgres_url: str, kafka_bootstrap: str, jwt_keys: tuple[str, str]
) -> AsyncIterator[Settings]:
    """Like `settings`, shared by a module's tests (one app for them all): the fuzz tests."""
    database = await create_database(postgres_url, "test")
    yield _settings(database, kafka_bootstrap, jwt_keys[1])
    await drop_database(postgres_url, database)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The whole service (migrations, broker, consumers) started on real infrastructure."""
    app = create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://analytics") as http,
    ):
        yield http


Publish = Callable[..., Awaitable[RecordMetadata]]


@pytest.fixture
def publish(producer: AIOKafkaProducer, settings: Settings) -> Publish:
    """`publish(event)`: send to the service's topic for the event, keyed by its subject as
    producers do; `partition=` forces a partition (to put a marker right behind an event)."""

    async def send(event: CloudEvent[Any], *, partition: int | None = None) -> RecordMetadata:
        is_order = event.type.startswith("crm.order.")
        topic = settings.orders_topic if is_order else settings.customers_topic
        key = event.subject.encode() if event.subject else None
        metadata: RecordMetadata = await producer.send_and_wait(
            topic, to_json_bytes(event), key=key, partition=partition
        )
        return metadata

    return send


@pytest.fixture
async def database(fresh_database: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the service's database, to see what it stored."""
    connection = await asyncpg.connect(fresh_database)
    yield connection
    await connection.close()


@pytest.fixture
def fact_stored(database: asyncpg.Connection, eventually: Poll) -> Callable[..., Awaitable[None]]:
    """Wait until each order's fact holds at least the given version (order_id, version)."""

    async def wait_for(*orders: tuple[str, int]) -> None:
        async def all_stored() -> bool:
            for order_id, version in orders:
                stored = await database.fetchval(
                    "SELECT version FROM order_facts WHERE order_id = $1", order_id
                )
                if stored is None or stored < version:
                    return False
            return True

        await eventually(all_stored)

    return wait_for


@pytest.fixture
def processed(database: asyncpg.Connection, eventually: Poll) -> Callable[..., Awaitable[None]]:
    """Wait until the customer-event consumer has applied the events."""

    async def wait_for(*events: CloudEvent[Any]) -> None:
        ids = [event.id for event in events]

        async def all_applied() -> bool:
            count = await database.fetchval(
                "SELECT count(*) FROM processed_events WHERE event_id = ANY($1::text[])", ids
            )
            return bool(count == len(ids))

        await eventually(all_applied)

    return wait_for


class Factories:
    """The builders above, for test modules (which cannot import conftest)."""

    new_id = staticmethod(new_id)
    order = staticmethod(order_snapshot)
    order_event = staticmethod(order_event)
    attribution_event = staticmethod(attribution_event)
    merge_event = staticmethod(merge_event)
    unmerge_event = staticmethod(unmerge_event)


@pytest.fixture
def make() -> type[Factories]:
    return Factories


@pytest.fixture
def store_id() -> str:
    """A store no other test (or other engineer's test) publishes orders for."""
    return new_id("store")


@pytest.fixture
async def sessions(fresh_database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a migrated database of the test's own, without broker or app."""
    engine = db.create_engine(fresh_database, pool_size=20)
    await db.migrate(engine, MIGRATIONS)
    yield db.session_factory(engine)
    await engine.dispose()


@pytest.fixture
def apply(
    sessions: async_sessionmaker[AsyncSession],
) -> Callable[[CloudEvent[Any]], Awaitable[None]]:
    """Apply one event as its consumer does: parsed off the wire, in its own transaction, retried
    when PostgreSQL breaks a deadlock (as `crm_common.kafka.subscribe` would)."""

    async def apply_event(event: CloudEvent[Any]) -> None:
        wire = parse_envelope(to_json_bytes(event))
        for attempt in range(5):
            try:
                async with db.transaction(sessions) as session:
                    if wire.type.startswith("crm.order."):
                        await service.apply_order_event(session=session, event=wire)
                    else:
                        await service.apply_customer_event(session=session, event=wire)
                return
            except DBAPIError:
                if attempt == 4:
                    raise

    return apply_event


ApplyBatch = Callable[[list[CloudEvent[Any]]], Awaitable[service.Outcome]]


@pytest.fixture
def apply_batch(sessions: async_sessionmaker[AsyncSession]) -> ApplyBatch:
    """Apply events of one topic as one batch, as its consumer does: parsed off the wire, in one
    transaction, retried when PostgreSQL breaks a deadlock; returns the batch's outcome."""

    async def apply_events(events: list[CloudEvent[Any]]) -> service.Outcome:
        wire = [parse_envelope(to_json_bytes(event)) for event in events]
        orders = wire[0].type.startswith("crm.order.")
        for attempt in range(5):
            try:
                async with db.transaction(sessions) as session:
                    if orders:
                        return await service.apply_order_events(session=session, events=wire)
                    return await service.apply_customer_events(session=session, events=wire)
            except DBAPIError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    return apply_events
