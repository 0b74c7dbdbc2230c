"""Shop customer accounts (`shop.customer.upserted`) into customers, through the running service
on real Kafka and PostgreSQL."""

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
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import dlq_topic
from crm_common.testing.plugin import unique_topic
from crm_events.registry import CONTRACTS
from crm_events.shop import Address
from crm_events.shop_activity import SHOP_CUSTOMER_UPSERTED
from customer_profile.config import Settings
from customer_profile.main import create_app
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import text

pytestmark = pytest.mark.integration

T = TypeVar("T")
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
EXTERNAL_ID = "706405506930370084"


@dataclass
class Collector:
    records: list[Any] = field(default_factory=list)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(record.value) for record in self.records]


@dataclass
class Running:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    customers: Collector
    dead_letters: Collector

    async def publish(self, topic: str, event: CloudEvent[Any], key: str) -> None:
        broker = self.app.state.runtime.broker
        await broker.publish(to_json_bytes(event), topic, key=key.encode())

    async def account(self, event: CloudEvent[Any]) -> None:
        await self.publish(self.settings.activity_topic, event, key=f"demo:{EXTERNAL_ID}")

    async def customer(self, **lookup: str) -> dict[str, Any]:
        found = await self.client.get("/v1/customers", params=lookup)
        assert found.status_code == 200, found.text
        [item] = found.json()["items"]
        profile = await self.client.get(f"/v1/customers/{item['customer_id']}")
        assert profile.status_code == 200
        result: dict[str, Any] = profile.json()
        return result


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
        kafka_topic_partitions=1,
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
            headers=auth("admin"),
        ) as client,
        collecting(kafka_bootstrap, settings.customers_topic) as customers,
        collecting(kafka_bootstrap, dlq_topic(settings.activity_topic)) as dead_letters,
    ):
        yield Running(app, client, settings, customers, dead_letters)


async def eventually(probe: Callable[[], Awaitable[T]], timeout: float = 45.0) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await probe()
        except (AssertionError, ValueError):
            if loop.time() > deadline:
                raise
        await asyncio.sleep(0.1)


def upserted(
    *, updated_at: datetime, event_id: str | None = None, **changes: Any
) -> CloudEvent[Any]:
    customer = {
        "external_id": EXTERNAL_ID,
        "email": "Ann@Example.com",
        "phone": "613 612 0707",
        "first_name": "Ann",
        "last_name": "Lee",
    } | changes.pop("customer", {})
    data = {
        "store_id": "demo",
        "customer": customer,
        "addresses": [{"city": "Ottawa", "country": "CA"}],
        "accepts_marketing": True,
        "marketing_consent_at": (T0 - timedelta(days=1)).isoformat(),
        "tags": ["VIP", "newsletter"],
        "created_at": T0.isoformat(),
        "updated_at": updated_at.isoformat(),
    } | changes
    event = SHOP_CUSTOMER_UPSERTED.event(
        SHOP_CUSTOMER_UPSERTED.model.model_validate(data), source="shop/demo"
    )
    if event_id is not None:
        event.id = event_id
    return event


async def test_an_account_makes_a_prospect_that_a_later_order_links_to(
    running: Running, make_order, order_event
) -> None:
    await running.account(upserted(updated_at=T0))

    async def prospect() -> dict[str, Any]:
        customer = await running.customer(email="ann@example.com")
        assert customer["tags"] == ["newsletter", "vip"]
        return customer

    customer = await eventually(prospect)
    assert customer["lifecycle_stage"] == "prospect"
    assert customer["stats"]["orders_count"] == 0
    # A local number is read in the country of the account's address.
    assert (customer["phone"], customer["first_name"]) == ("+16136120707", "Ann")
    assert customer["accepts_marketing"] is True
    assert {(i["kind"], i["value"], i["store_id"]) for i in customer["identities"]} == {
        ("email", "ann@example.com", None),
        ("phone", "+16136120707", None),
        ("store_ref", EXTERNAL_ID, "demo"),
    }
    consents = await running.client.get(f"/v1/customers/{customer['customer_id']}/consents")
    [consent] = consents.json()["consents"]
    assert (consent["status"], consent["source"]) == ("granted", "shop")

    order = make_order(
        store_id="demo", email="ANN@example.com", first_name=None, last_name=None, total="20.00"
    )
    await running.publish(running.settings.orders_topic, order_event(order), key=order.order_id)

    async def ordered() -> dict[str, Any]:
        found = await running.customer(email="ann@example.com")
        assert found["stats"]["orders_count"] == 1
        return found

    after = await eventually(ordered)
    assert after["customer_id"] == customer["customer_id"]
    assert after["lifecycle_stage"] != "prospect"
    # The order names nobody: the account's names stay.
    assert (after["first_name"], after["last_name"]) == ("Ann", "Lee")

    async def announced() -> list[dict[str, Any]]:
        events = running.customers.events
        assert "crm.customer.order_attributed" in [e["type"] for e in events]
        return events

    events = await eventually(announced)
    for event in events:
        CONTRACTS.validate(event)
    types = [e["type"] for e in events]
    assert types[:4] == ["crm.customer.created"] + ["crm.customer.identity_linked"] * 3
    assert types.count("crm.customer.created") == 1
    assert "crm.customer.consent_changed" in types


async def test_redelivered_and_stale_revisions_change_nothing(running: Running) -> None:
    first = upserted(updated_at=T0 + timedelta(hours=2))
    await running.account(first)
    customer = await eventually(lambda: running.customer(email="ann@example.com"))

    await running.account(first)  # redelivered: the same id
    await running.account(
        upserted(updated_at=T0 + timedelta(hours=1), customer={"last_name": "Old"})
    )
    await running.account(
        upserted(updated_at=T0 + timedelta(hours=3), customer={"last_name": "Ng"})
    )

    async def renamed() -> dict[str, Any]:
        found = await running.customer(email="ann@example.com")
        assert found["last_name"] == "Ng"
        return found

    after = await eventually(renamed)
    assert after["customer_id"] == customer["customer_id"]
    # Exactly one new version, for the newest revision: the copy and the older revision (which
    # came before it on the same partition) changed nothing.
    assert after["version"] == customer["version"] + 1
    names = {e["data"].get("last_name") for e in running.customers.events if "data" in e}
    assert "Old" not in names


async def test_an_explicit_decision_beats_an_older_shop_flag(running: Running) -> None:
    await running.account(upserted(updated_at=T0))
    customer = await eventually(lambda: running.customer(email="ann@example.com"))
    path = f"/v1/customers/{customer['customer_id']}/consents/email/marketing"
    withdrawn = await running.client.put(
        path, json={"status": "withdrawn", "changed_at": (T0 + timedelta(hours=1)).isoformat()}
    )
    assert withdrawn.status_code == 200, withdrawn.text

    # The shop repeats its older flag on a newer revision of the account: the person's later
    # decision stands.
    await running.account(
        upserted(updated_at=T0 + timedelta(hours=2), customer={"first_name": "Annie"})
    )

    async def renamed() -> dict[str, Any]:
        found = await running.customer(email="ann@example.com")
        assert found["first_name"] == "Annie"
        return found

    assert (await eventually(renamed))["accepts_marketing"] is False
    # A decision the shop took after it wins.
    await running.account(
        upserted(
            updated_at=T0 + timedelta(hours=3),
            marketing_consent_at=(T0 + timedelta(hours=3)).isoformat(),
        )
    )

    async def granted() -> None:
        assert (await running.customer(email="ann@example.com"))["accepts_marketing"] is True

    await eventually(granted)


async def test_an_account_naming_nobody_is_dead_lettered(running: Running) -> None:
    junk = upserted(
        updated_at=T0,
        customer={"external_id": "0", "email": "test@test.com", "phone": None},
    )
    fine = upserted(
        updated_at=T0, customer={"external_id": "c-2", "email": "bo@example.com", "phone": None}
    )
    await running.account(junk)
    await running.account(fine)

    await eventually(lambda: running.customer(email="bo@example.com"))

    async def parked() -> None:
        [record] = running.dead_letters.records
        headers = dict(record.headers)
        assert b"no usable identity" in headers["x-dlq-reason"]
        assert json.loads(record.value)["id"] == junk.id

    await eventually(parked)


HOME = {
    "name": "Ann Lee",
    "line1": "12 Elgin St",
    "city": "Ottawa",
    "postal_code": "K1P 5W1",
    "country": "CA",
}
HOME_RETYPED = {
    "name": "A. Lee",
    "line1": "12 ELGIN ST.",
    "city": "ottawa",
    "postal_code": "k1p5w1",
    "country": "CA",
}
COTTAGE = {"line1": "3 Lakeshore Rd", "city": "Kingston", "postal_code": "K7L 1A1", "country": "CA"}
WORK = {"line1": "90 Sparks St", "line2": "Suite 400", "city": "Ottawa", "country": "CA"}
BEA = {"external_id": "c-9", "email": "bea@example.com", "phone": None, "first_name": "Bea"}


def _place(address: dict[str, Any], kinds: list[str], first: datetime, last: datetime, orders=0):
    return {
        "kinds": kinds,
        **dict.fromkeys(("name", "line1", "line2", "city", "region", "postal_code", "country")),
        **address,
        "first_seen_at": first.isoformat().replace("+00:00", "Z"),
        "last_seen_at": last.isoformat().replace("+00:00", "Z"),
        "orders": orders,
    }


async def _places(running: Running, customer_id: str, count: int) -> list[dict[str, Any]]:
    async def found() -> list[dict[str, Any]]:
        response = await running.client.get(f"/v1/customers/{customer_id}")
        assert response.status_code == 200, response.text
        places: list[dict[str, Any]] = response.json()["addresses"]
        assert len(places) == count
        return places

    return await eventually(found)


def _stale_count() -> float:
    return REGISTRY.get_sample_value("crm_shop_account_events_total", {"outcome": "stale"}) or 0.0


async def test_account_addresses_show_on_the_profile_newest_revision_wins(
    running: Running, make_order, order_event
) -> None:
    await running.account(upserted(updated_at=T0, addresses=[HOME, COTTAGE]))
    customer = await eventually(lambda: running.customer(email="ann@example.com"))
    customer_id = customer["customer_id"]
    # Listed on the same revision: in the account's order (its default first).
    assert await _places(running, customer_id, 2) == [
        _place(HOME, ["account"], T0, T0),
        _place(COTTAGE, ["account"], T0, T0),
    ]

    # A newer revision replaces the account's addresses: the cottage goes, the home (retyped)
    # stays the same place, first seen with the first revision.
    later = T0 + timedelta(hours=2)
    await running.account(upserted(updated_at=later, addresses=[WORK, HOME_RETYPED]))

    async def replaced() -> list[dict[str, Any]]:
        places = await _places(running, customer_id, 2)
        assert places[0]["line1"] == WORK["line1"]
        return places

    assert await eventually(replaced) == [
        _place(WORK, ["account"], later, later),
        _place(HOME_RETYPED, ["account"], T0, later),
    ]

    # An older revision arriving late changes nothing.
    stale_before = _stale_count()
    await running.account(upserted(updated_at=T0 + timedelta(hours=1), addresses=[COTTAGE]))

    async def ignored() -> None:
        assert _stale_count() == stale_before + 1

    await eventually(ignored)
    assert [p["line1"] for p in await _places(running, customer_id, 2)] == [
        WORK["line1"],
        HOME_RETYPED["line1"],
    ]

    # An order shipped to the home is the same place: one entry, seen on both.
    order = make_order(store_id="demo", email="ann@example.com").model_copy(
        update={"shipping_address": Address.model_validate(HOME)}
    )
    await running.publish(running.settings.orders_topic, order_event(order), key=order.order_id)

    async def ordered() -> list[dict[str, Any]]:
        places = await _places(running, customer_id, 2)
        assert places[1]["orders"] == 1
        return places

    work, home = await eventually(ordered)
    assert work == _place(WORK, ["account"], later, later)
    # The account's revision is newer than the order: its form shows.
    assert home == _place(HOME_RETYPED, ["account", "shipping"], order.placed_at, later, 1)

    exported = await running.client.get(f"/v1/customers/{customer_id}:export")
    assert exported.status_code == 200
    assert exported.json()["profile"]["addresses"] == [work, home]
    assert "account_addresses" not in exported.json()["other"]

    erased = await running.client.post(f"/v1/customers/{customer_id}:erase")
    assert erased.status_code == 200
    async with running.app.state.runtime.sessions() as session:
        for table in ("account_addresses", "account_address_moves", "order_addresses"):
            assert await session.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table


async def test_account_addresses_move_with_a_merge_and_go_back_on_undo(running: Running) -> None:
    await running.account(upserted(updated_at=T0, addresses=[HOME]))
    await running.account(upserted(updated_at=T0, customer=BEA, addresses=[COTTAGE]))
    ann = (await eventually(lambda: running.customer(email="ann@example.com")))["customer_id"]
    bea = (await eventually(lambda: running.customer(email="bea@example.com")))["customer_id"]
    await _places(running, bea, 1)

    merge = await running.client.post(f"/v1/customers/{ann}:merge", json={"merge_with": bea})
    assert merge.status_code == 201, merge.text
    # Both listed first at the same time: the tie goes by fingerprint, so compare as a set.
    assert {p["line1"] for p in await _places(running, ann, 2)} == {
        HOME["line1"],
        COTTAGE["line1"],
    }
    # A newer revision of the merged customer's account now resolves to the survivor, and the
    # undo still takes that account back.
    later = T0 + timedelta(hours=1)
    await running.account(upserted(updated_at=later, customer=BEA, addresses=[WORK]))

    async def revised() -> None:
        places = await _places(running, ann, 2)
        assert [p["line1"] for p in places] == [WORK["line1"], HOME["line1"]]

    await eventually(revised)

    undo = await running.client.post(f"/v1/merges/{merge.json()['merge_id']}:undo")
    assert undo.status_code == 200, undo.text
    assert await _places(running, ann, 1) == [_place(HOME, ["account"], T0, T0)]
    assert await _places(running, bea, 1) == [_place(WORK, ["account"], later, later)]
    async with running.app.state.runtime.sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM account_address_moves")) == 0
