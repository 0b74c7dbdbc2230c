import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from campaign.config import Settings
from campaign.main import create_app
from crm_common.contracts import EventContract
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.testing.plugin import Poll, create_database, drop_database, unique_topic
from crm_events.customer import CUSTOMER_CREATED, CustomerSnapshot
from crm_events.topics import CRM_CUSTOMERS


def customer_data(**overrides: Any) -> dict[str, Any]:
    """A valid crm.customer.created/updated body for a customer no other test uses."""
    now = datetime.now(UTC)
    suffix = secrets.token_hex(4)
    return {
        "customer_id": f"cust-{suffix}",
        "email": f"ann.{suffix}@example.com",
        "phone": f"+1415{secrets.randbelow(10**7):07d}",
        "first_name": f"Ann{suffix}",
        "last_name": f"Lee{suffix}",
        "accepts_marketing": True,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        **overrides,
    }


def envelope(contract: EventContract[Any], data: dict[str, Any]) -> CloudEvent[Any]:
    return contract.event(contract.model.model_validate(data), source="test")


@pytest.fixture
def new_customer() -> Callable[..., dict[str, Any]]:
    return customer_data


@pytest.fixture
def customer_event() -> Callable[..., CloudEvent[Any]]:
    """`customer_event(contract, **data)`: an envelope of `contract` around `data`."""

    def build(contract: EventContract[Any] = CUSTOMER_CREATED, **data: Any) -> CloudEvent[Any]:
        return envelope(contract, data)

    return build


@pytest.fixture
def snapshot() -> Callable[[CloudEvent[Any]], CustomerSnapshot]:
    def data_of(event: CloudEvent[Any]) -> CustomerSnapshot:
        assert isinstance(event.data, CustomerSnapshot)
        return event.data

    return data_of


@pytest.fixture
def settings(fresh_database: str, kafka_bootstrap: str, jwt_keys: tuple[str, str]) -> Settings:
    return Settings(
        database_url=fresh_database,
        kafka_bootstrap_servers=kafka_bootstrap,
        jwt_public_key=jwt_keys[1],
        consumer_retry_backoff_seconds=0.05,
        consumer_group_prefix="campaign-tests",
        metrics_refresh_seconds=0.5,
        segment_scan_seconds=0.2,
    )


@pytest.fixture(scope="module")
async def module_settings(
    postgres_url: str, kafka_bootstrap: str, jwt_keys: tuple[str, str]
) -> AsyncIterator[Settings]:
    """Like `settings`, on topics of their own, shared by a module's tests (one app for them
    all): the fuzz tests."""
    database = await create_database(postgres_url, "test")
    yield Settings(
        database_url=database,
        kafka_bootstrap_servers=kafka_bootstrap,
        jwt_public_key=jwt_keys[1],
        customers_topic=unique_topic("test.crm.customers"),
        messages_topic=unique_topic("test.crm.messages"),
        consumer_group_prefix=unique_topic("campaign-tests"),
        consumer_retry_backoff_seconds=0.05,
    )
    await drop_database(postgres_url, database)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The whole service (migrations, broker, consumers, relay) started on real infrastructure."""
    app = create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://campaign") as http,
    ):
        yield http


@pytest.fixture
def publish(producer: AIOKafkaProducer) -> Callable[[CloudEvent[Any]], Awaitable[None]]:
    """Send an event to crm.customers.v1, keyed as customer-profile keys it (by subject)."""

    async def send(event: CloudEvent[Any]) -> None:
        key = event.subject.encode() if event.subject else None
        await producer.send_and_wait(CRM_CUSTOMERS, to_json_bytes(event), key=key)

    return send


@pytest.fixture
async def database(fresh_database: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the service's database, to look at what it stored."""
    connection = await asyncpg.connect(fresh_database)
    yield connection
    await connection.close()


@pytest.fixture
def processed(database: asyncpg.Connection, eventually: Poll) -> Callable[..., Awaitable[None]]:
    """Wait until the contact consumer has applied the events with these ids."""

    async def wait_for(*events: CloudEvent[Any]) -> None:
        ids = [event.id for event in events]

        async def all_applied() -> bool:
            count = await database.fetchval(
                "SELECT count(*) FROM processed_events "
                "WHERE consumer = 'campaign.contacts' AND event_id = ANY($1::text[])",
                ids,
            )
            return bool(count == len(ids))

        await eventually(all_applied)

    return wait_for
