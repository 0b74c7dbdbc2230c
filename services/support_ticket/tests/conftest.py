import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from crm_common.contracts import EventContract
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.mongo import create_client
from crm_common.testing.plugin import Poll, unique_topic
from crm_events.customer import CUSTOMER_CREATED
from pymongo.asynchronous.database import AsyncDatabase
from support_ticket.config import Settings
from support_ticket.main import create_app


def customer_data(**overrides: Any) -> dict[str, Any]:
    """A valid crm.customer.created/updated body for a customer no other test uses."""
    # MongoDB keeps milliseconds: whole seconds make stored and sent times compare equal.
    now = datetime.now(UTC).replace(microsecond=0)
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


@pytest.fixture
def new_customer() -> Callable[..., dict[str, Any]]:
    return customer_data


@pytest.fixture
def customer_event() -> Callable[..., CloudEvent[Any]]:
    """`customer_event(contract, **data)`: an envelope of `contract` around `data`."""

    def build(contract: EventContract[Any] = CUSTOMER_CREATED, **data: Any) -> CloudEvent[Any]:
        return contract.event(contract.model.model_validate(data), source="test")

    return build


@pytest.fixture
async def database(mongodb_url: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database of its own for one test, dropped afterwards."""
    client = create_client(mongodb_url)
    name = f"test_support_ticket_{secrets.token_hex(4)}"
    yield client[name]
    await client.drop_database(name)
    await client.close()


@pytest.fixture(scope="module")
async def module_settings(
    mongodb_url: str, kafka_bootstrap: str, jwt_keys: tuple[str, str]
) -> AsyncIterator[Settings]:
    """Like `settings`, on a database (dropped afterwards) and topics of their own, shared by a
    module's tests (one app for them all): the fuzz tests."""
    name = f"test_support_ticket_{secrets.token_hex(4)}"
    yield Settings(
        mongodb_url=mongodb_url,
        mongodb_database=name,
        kafka_bootstrap_servers=kafka_bootstrap,
        jwt_public_key=jwt_keys[1],
        customers_topic=unique_topic("test.crm.customers"),
        tickets_topic=unique_topic("test.crm.tickets"),
        consumer_group_prefix=unique_topic("support_ticket-tests"),
        consumer_retry_backoff_seconds=0.05,
    )
    client = create_client(mongodb_url)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


@pytest.fixture
def settings(
    mongodb_url: str,
    database: AsyncDatabase[dict[str, Any]],
    kafka_bootstrap: str,
    jwt_keys: tuple[str, str],
) -> Settings:
    return Settings(
        mongodb_url=mongodb_url,
        mongodb_database=database.name,
        kafka_bootstrap_servers=kafka_bootstrap,
        jwt_public_key=jwt_keys[1],
        consumer_retry_backoff_seconds=0.05,
        # Topics and groups of the test's own: concurrent runs never take each other's events.
        consumer_group_prefix=unique_topic("support_ticket-tests"),
        customers_topic=unique_topic("test.crm.customers"),
        tickets_topic=unique_topic("test.crm.tickets"),
        relay_poll_interval_seconds=0.1,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The whole service (indexes, broker, consumers) started on real infrastructure."""
    app = create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://support-ticket"
        ) as http,
    ):
        yield http


@pytest.fixture
def publish(
    producer: AIOKafkaProducer, settings: Settings
) -> Callable[[CloudEvent[Any]], Awaitable[None]]:
    """Send an event to the test's crm.customers.v1, keyed as customer-profile keys it (by
    subject)."""

    async def send(event: CloudEvent[Any]) -> None:
        key = event.subject.encode() if event.subject else None
        await producer.send_and_wait(settings.customers_topic, to_json_bytes(event), key=key)

    return send


@pytest.fixture
def processed(
    database: AsyncDatabase[dict[str, Any]], eventually: Poll
) -> Callable[..., Awaitable[None]]:
    """Wait until the customer consumer has applied the events with these ids."""

    async def wait_for(*events: CloudEvent[Any]) -> None:
        ids = [event.id for event in events]

        async def all_applied() -> bool:
            count = await database["processed_events"].count_documents(
                {"event_id": {"$in": ids}, "consumer": "support_ticket.customers"}
            )
            return count == len(ids)

        await eventually(all_applied)

    return wait_for
