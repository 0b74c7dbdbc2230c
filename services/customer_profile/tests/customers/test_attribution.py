"""Attributing orders to customers against a real PostgreSQL database."""

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest
from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.outbox import OutboxEvent
from crm_common.testing.migrations import migration_drift
from crm_events.registry import CONTRACTS
from crm_events.shop import FulfillmentStatus
from customer_profile.customers import service
from customer_profile.customers.exceptions import NoUsableIdentity
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

TOPIC = "crm.customers.v1"
Sessions = async_sessionmaker[AsyncSession]


async def apply(sessions: Sessions, event: CloudEvent[dict[str, Any]]) -> None:
    async with transaction(sessions) as session:
        await service.apply_order_event(session=session, event=event, customers_topic=TOPIC)


async def published(sessions: Sessions) -> list[dict[str, Any]]:
    """Every event in the outbox, in commit order, checked against its committed schema."""
    async with sessions() as session:
        rows = (await session.execute(select(OutboxEvent).order_by(OutboxEvent.seq))).scalars()
        events = []
        for row in rows:
            envelope = json.loads(row.payload)
            CONTRACTS.validate(envelope)
            assert row.topic == TOPIC
            assert row.key == envelope["subject"]
            events.append(envelope)
    return events


async def customer(sessions: Sessions, **lookup: str) -> service.CustomerView:
    async with sessions() as session:
        found = await service.find_customers(session=session, **lookup)
    assert len(found) == 1
    return found[0]


async def test_first_order_creates_the_customer_and_announces_it(
    sessions, make_order, order_event
) -> None:
    order = make_order(
        store_id="store-a",
        email=" Ada@Example.com ",
        phone="(415) 555-0100",
        customer_ref="c-1",
        billing_country="US",
        total="32.00",
        accepts_marketing=True,
    )
    await apply(sessions, order_event(order))

    events = await published(sessions)
    assert [e["type"] for e in events] == [
        "crm.customer.created",
        "crm.customer.identity_linked",
        "crm.customer.identity_linked",
        "crm.customer.identity_linked",
        "crm.customer.order_attributed",
        # accepts_marketing on the order grants email marketing (see consents).
        "crm.customer.consent_changed",
    ]
    created = events[0]["data"]
    customer_id = created["customer_id"]
    assert {e["subject"] for e in events} == {customer_id}
    assert {e["source"] for e in events} == {"customer-profile"}
    assert created["email"] == "ada@example.com"
    assert created["phone"] == "+14155550100"
    assert created["accepts_marketing"] is True
    assert created["version"] == 1
    assert created["stats"] == {
        "orders_count": 1,
        "total_spent": "32.00",
        "currency": "USD",
        "first_order_at": "2026-03-01T12:00:00Z",
        "last_order_at": "2026-03-01T12:00:00Z",
    }
    assert [e["data"]["identity"] for e in events[1:4]] == [
        {"kind": "email", "value": "ada@example.com", "store_id": None},
        {"kind": "phone", "value": "+14155550100", "store_id": None},
        {"kind": "store_ref", "value": "c-1", "store_id": "store-a"},
    ]
    assert events[4]["data"] == {
        "customer_id": customer_id,
        "order_id": order.order_id,
        "store_id": "store-a",
        "order_external_id": order.external_id,
    }


async def test_one_person_across_two_stores_is_one_customer(
    sessions, make_order, order_event
) -> None:
    first = make_order(
        store_id="store-a",
        email="Ada@Example.com",
        phone="+1 415 555 0100",
        customer_ref="c-1",
        total="30.00",
        currency="USD",
    )
    second = make_order(
        store_id="store-b",
        email=" ADA@EXAMPLE.COM",
        phone="(415) 555-0100",
        customer_ref="77",
        shipping_country="US",
        total="12.50",
        currency="USD",
        first_name="Augusta",
        placed_at=first.placed_at.replace(day=5),
    )
    await apply(sessions, order_event(first))
    await apply(sessions, order_event(second, "crm.order.paid"))

    view = await customer(sessions, email="ada@example.com")
    by_phone = await customer(sessions, phone="+14155550100")
    by_ref = await customer(sessions, store_id="store-b", external_id="77")
    assert by_phone.customer.customer_id == by_ref.customer.customer_id == view.customer.customer_id
    c = view.customer
    assert (c.orders_count, c.total_spent, c.currency) == (2, Decimal("42.50"), "USD")
    assert (c.first_order_at, c.last_order_at) == (first.placed_at, second.placed_at)
    assert (c.first_name, c.version) == ("Augusta", 2)
    assert len(view.identities) == 4

    second_events = (await published(sessions))[5:]
    assert [e["type"] for e in second_events] == [
        "crm.customer.identity_linked",
        "crm.customer.order_attributed",
        "crm.customer.updated",
    ]
    assert second_events[0]["data"]["identity"] == {
        "kind": "store_ref",
        "value": "77",
        "store_id": "store-b",
    }
    updated = second_events[2]["data"]
    assert updated["version"] == 2
    assert updated["stats"]["total_spent"] == "42.50"
    assert len(updated["identities"]) == 4


async def test_a_redelivered_event_changes_nothing(sessions, make_order, order_event) -> None:
    first = make_order(email="grace@example.com")
    event = order_event(first)
    await apply(sessions, event)
    refund = order_event(make_order(**_same(first), version=2, refunded_total="10.00"))
    await apply(sessions, refund)
    before = await published(sessions)
    version = (await customer(sessions, email="grace@example.com")).customer.version

    await apply(sessions, event)
    await apply(sessions, refund)

    assert await published(sessions) == before
    after = (await customer(sessions, email="grace@example.com")).customer
    assert (after.version, after.total_spent) == (version, Decimal("20.00"))


async def test_only_a_newer_snapshot_that_changes_the_customer_is_announced(
    sessions, make_order, order_event
) -> None:
    placed = make_order(email="alan@example.com", total="50.00", version=2)
    await apply(sessions, order_event(placed))
    count = len(await published(sessions))

    await apply(sessions, order_event(make_order(**_same(placed), version=1, total="99.00")))
    fulfilled = placed.model_copy(
        update={"version": 3, "fulfillment_status": FulfillmentStatus.FULFILLED}
    )
    await apply(sessions, order_event(fulfilled, "crm.order.fulfilled"))
    assert len(await published(sessions)) == count
    assert (await customer(sessions, email="alan@example.com")).customer.version == 1

    cancelled = make_order(**_same(placed), version=4, cancelled_at=placed.placed_at)
    await apply(sessions, order_event(cancelled, "crm.order.cancelled"))
    events = (await published(sessions))[count:]
    assert [e["type"] for e in events] == ["crm.customer.updated"]
    assert events[0]["data"]["version"] == 2
    assert events[0]["data"]["stats"]["orders_count"] == 0
    assert events[0]["data"]["stats"]["total_spent"] == "0"


async def test_conflicting_keys_merge_their_customers_into_the_older(
    sessions, make_order, order_event
) -> None:
    await apply(sessions, order_event(make_order(email="edsger@example.com")))
    await apply(sessions, order_event(make_order(email=None, phone="+442079460958")))
    by_email = (await customer(sessions, email="edsger@example.com")).customer.customer_id
    by_phone = (await customer(sessions, phone="+442079460958")).customer.customer_id
    assert by_email != by_phone

    both = make_order(email="EDSGER@example.com", phone="020 7946 0958", billing_country="GB")
    await apply(sessions, order_event(both))

    view = await customer(sessions, email="edsger@example.com")
    assert view.customer.customer_id == by_email
    assert view.customer.orders_count == 3
    assert (await customer(sessions, phone="+442079460958")).customer.customer_id == by_email
    assert view.customer.phone == "+442079460958"
    assert [i.kind for i in view.identities] == ["email", "phone"]
    merged = [e["data"] for e in await published(sessions) if e["type"] == "crm.customer.merged"]
    assert [(m["survivor_id"], m["merged_id"]) for m in merged] == [(by_email, by_phone)]


async def test_an_order_without_a_usable_identity_is_refused(
    sessions, make_order, order_event
) -> None:
    unusable = make_order(email="not an email", phone="12", customer_ref=None)
    with pytest.raises(NoUsableIdentity):
        await apply(sessions, order_event(unusable))
    assert await published(sessions) == []
    async with sessions() as session:
        claims = await session.scalar(text("SELECT count(*) FROM processed_events"))
    assert claims == 0


async def test_concurrent_first_orders_of_one_person_end_with_one_customer(
    sessions, make_order, order_event
) -> None:
    events = [order_event(make_order(email="hedy@example.com", total="5.00")) for _ in range(3)]
    outcomes = await asyncio.gather(*(apply(sessions, e) for e in events), return_exceptions=True)
    # A losing transaction fails on the identity's primary key; the consumer's retry then
    # finds the winner's customer.
    for event, outcome in zip(events, outcomes, strict=True):
        if isinstance(outcome, Exception):
            assert isinstance(outcome, IntegrityError)
            await apply(sessions, event)

    view = await customer(sessions, email="hedy@example.com")
    assert (view.customer.orders_count, view.customer.total_spent) == (3, Decimal("15.00"))
    created = [e for e in await published(sessions) if e["type"] == "crm.customer.created"]
    assert len(created) == 1


async def test_other_event_types_on_the_topic_are_ignored(
    sessions, make_order, order_event
) -> None:
    event = order_event(make_order(email="barbara@example.com"))
    event.type = "crm.order.archived"
    await apply(sessions, event)
    assert await published(sessions) == []


async def test_the_migrations_match_the_models(sessions) -> None:
    async with sessions() as session:
        connection = await session.connection()
        assert await connection.run_sync(migration_drift, "customer_profile") == []


def _same(order: Any) -> dict[str, Any]:
    """The identifying parts of `order`, to build another snapshot of it."""
    return {
        "order_id": order.order_id,
        "external_id": order.external_id,
        "store_id": order.store_id,
        "email": order.customer.email,
        "placed_at": order.placed_at,
    }
