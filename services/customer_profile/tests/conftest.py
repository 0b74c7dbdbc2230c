"""Factories for order snapshots and their events, a migrated database per test, and settings
for a module's app."""

import base64
import json
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from crm_common import db
from crm_common.envelope import CloudEvent
from crm_common.testing.plugin import create_database, drop_database, unique_topic
from crm_events.order import OrderSnapshot
from crm_events.registry import CONTRACTS
from crm_events.shop import CanonicalOrder
from customer_profile import pii
from customer_profile.config import Settings
from customer_profile.main import MIGRATIONS
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

PLACED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# Fixed test keys (never used outside tests): two data keys, so rotation can be exercised.
TEST_PII_KEYS = {
    "test1": b"test-key-1-test-key-1-test-key-1",
    "test2": b"test-key-2-test-key-2-test-key-2",
}
TEST_PII_LOOKUP_KEY = b"test-lookup-key-test-lookup-key-1"


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@pytest.fixture(scope="session", autouse=True)
def pii_test_keyring() -> None:
    """The test keyring, installed in the process for tests that use the store without an app."""
    pii.configure(
        pii.Keyring(keys=TEST_PII_KEYS, active_key="test2", lookup_key=TEST_PII_LOOKUP_KEY)
    )


@pytest.fixture(autouse=True)
def pii_test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same keys in the environment, for `Settings()` and create_app; set per test, so that
    they never reach processes started later in the session (`deploy/local/services.sh`)."""
    monkeypatch.setenv(
        "CUSTOMER_PROFILE_PII_KEYS", json.dumps({k: _b64(v) for k, v in TEST_PII_KEYS.items()})
    )
    monkeypatch.setenv("CUSTOMER_PROFILE_PII_ACTIVE_KEY", "test2")
    monkeypatch.setenv("CUSTOMER_PROFILE_PII_LOOKUP_KEY", _b64(TEST_PII_LOOKUP_KEY))


def _make_order(
    *,
    order_id: str | None = None,
    store_id: str = "store-a",
    external_id: str | None = None,
    version: int = 1,
    placed_at: datetime = PLACED_AT,
    currency: str = "USD",
    total: str = "30.00",
    refunded_total: str = "0",
    financial_status: str = "paid",
    cancelled_at: datetime | None = None,
    email: str | None = "ada@example.com",
    phone: str | None = None,
    customer_ref: str | None = None,
    first_name: str | None = "Ada",
    last_name: str | None = "Lovelace",
    accepts_marketing: bool = False,
    shipping_country: str | None = None,
    billing_country: str | None = None,
    store_country: str | None = None,
) -> OrderSnapshot:
    """An order snapshot as order-sync would publish it; every part can be overridden."""
    canonical = CanonicalOrder.model_validate(
        {
            "store_id": store_id,
            "external_id": external_id or f"ext-{uuid4().hex[:8]}",
            "placed_at": placed_at,
            "currency": currency,
            "financial_status": financial_status,
            "cancelled_at": cancelled_at,
            "customer": {
                "external_id": customer_ref,
                "email": email,
                "phone": phone,
                "first_name": first_name,
                "last_name": last_name,
                "accepts_marketing": accepts_marketing,
            },
            "lines": [{"name": "Mug", "quantity": 1, "unit_price": total}],
            "shipping_address": {"country": shipping_country} if shipping_country else None,
            "billing_address": {"country": billing_country} if billing_country else None,
            "total": total,
            "refunded_total": refunded_total,
        }
    )
    return OrderSnapshot.from_order(
        canonical, order_id=order_id or str(uuid4()), version=version, store_country=store_country
    )


def _order_event(
    order: OrderSnapshot, event_type: str = "crm.order.placed"
) -> CloudEvent[dict[str, Any]]:
    """`order` in the envelope order-sync publishes, with `data` as it arrives: a plain dict."""
    contract = CONTRACTS.get(event_type)
    typed = contract.event(contract.model.model_validate(order.model_dump()))
    return CloudEvent[dict[str, Any]].model_validate_json(typed.model_dump_json())


@pytest.fixture
def make_order() -> Callable[..., OrderSnapshot]:
    """Build an order snapshot: `make_order(email=..., version=2, ...)`."""
    return _make_order


@pytest.fixture
def order_event() -> Callable[..., CloudEvent[dict[str, Any]]]:
    """Wrap a snapshot in an order event: `order_event(snapshot, "crm.order.paid")`."""
    return _order_event


@pytest.fixture
async def sessions(fresh_database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a database of this test's own, migrated to the newest revision."""
    engine = db.create_engine(fresh_database, pool_size=2)
    await db.migrate(engine, MIGRATIONS)
    yield db.session_factory(engine)
    await engine.dispose()


@pytest.fixture(scope="module")
async def module_settings(
    postgres_url: str, kafka_bootstrap: str, jwt_keys: tuple[str, str]
) -> AsyncIterator[Settings]:
    """Settings on a database, topics and a consumer group of their own, shared by a module's
    tests (one app for them all): the fuzz tests. The test keys are given, not read from the
    environment, which `pii_test_env` sets per test only."""
    database = await create_database(postgres_url, "test")
    yield Settings(
        database_url=database,
        kafka_bootstrap_servers=kafka_bootstrap,
        jwt_public_key=jwt_keys[1],
        pii_keys={k: _b64(v) for k, v in TEST_PII_KEYS.items()},  # type: ignore[arg-type]
        pii_active_key="test2",
        pii_lookup_key=_b64(TEST_PII_LOOKUP_KEY),  # type: ignore[arg-type]
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
    await drop_database(postgres_url, database)
