"""Erasure against a real PostgreSQL database: nothing personal left, a tombstone kept."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.outbox import OutboxEvent
from crm_events.customer import ConsentChannel, ConsentPurpose, ConsentStatus
from crm_events.registry import CONTRACTS
from crm_events.shop_activity import SHOP_CUSTOMER_UPSERTED, ShopCustomerUpserted
from customer_profile.consents import flows
from customer_profile.consents.schemas import ConsentChange
from customer_profile.contacts import accounts
from customer_profile.customers import repository as customer_rows
from customer_profile.customers import service as customers
from customer_profile.privacy import access, erasure
from customer_profile.privacy.tombstone import ErasedWhileResolving, absorbed
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

TOPIC = "crm.customers.v1"
ADMIN = "dpo@operator.test"
T = datetime(2026, 4, 1, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]

EMAIL = "Zelphine.Quorvash@Example.com"
PHONE = "020 7946 0123"
PERSON = {
    "email": EMAIL,
    "phone": PHONE,
    "billing_country": "GB",
    "customer_ref": "zq-77",
    "first_name": "Zelphine",
    "last_name": "Quorvash",
    "accepts_marketing": True,
}
PROOF = {"ip": "203.0.113.99", "user_agent": "ZqBrowser/9.1"}
# On the person's shop account only (no order names it).
ACCOUNT_ADDRESS = {"line1": "4 Vexmoor Close", "city": "Thrallingham", "country": "GB"}
# Every form in which the person's data could have been stored.
PERSONAL_VALUES = [
    EMAIL.lower(),
    PHONE,
    "+442079460123",
    "2079460123",
    "Zelphine",
    "Quorvash",
    "zq-77",
    *PROOF.values(),
    "Vexmoor",
    "Thrallingham",
]


async def apply(sessions: Sessions, event: CloudEvent[dict[str, Any]]) -> None:
    async with transaction(sessions) as session:
        await customers.apply_order_event(session=session, event=event, customers_topic=TOPIC)


async def erase(sessions: Sessions, customer_id: str) -> erasure.Erasure | None:
    async with transaction(sessions) as session:
        return await erasure.erase_customer(
            session=session,
            customer_id=customer_id,
            actor=ADMIN,
            customers_topic=TOPIC,
            now=datetime.now(UTC),
        )


async def outbox(sessions: Sessions) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = (await session.execute(select(OutboxEvent).order_by(OutboxEvent.seq))).scalars()
        envelopes = [json.loads(row.payload) for row in rows]
    for envelope in envelopes:
        CONTRACTS.validate(envelope)
    return envelopes


async def relay(sessions: Sessions) -> None:
    """What the outbox relay does once Kafka has the events: delete them."""
    async with transaction(sessions) as session:
        await session.execute(delete(OutboxEvent))


async def person(sessions: Sessions, make_order, order_event) -> str:
    """A customer with two orders, a shop account with an address, every kind of identity and a
    consent with proof."""
    first = make_order(**PERSON, total="30.00", store_id="store-a")
    second = make_order(
        **PERSON, total="12.50", store_id="store-a", placed_at=first.placed_at + timedelta(3)
    )
    await apply(sessions, order_event(first))
    await apply(sessions, order_event(second))
    account = ShopCustomerUpserted.model_validate(
        {
            "store_id": "store-a",
            "customer": {"external_id": "zq-77", "email": EMAIL, "first_name": "Zelphine"},
            "addresses": [ACCOUNT_ADDRESS],
            "updated_at": T,
        }
    )
    async with transaction(sessions) as session:
        await accounts.apply_account(
            session=session,
            event=CloudEvent[dict[str, Any]](
                source="shop/store-a", type=SHOP_CUSTOMER_UPSERTED.type, data={}
            ),
            account=account,
            now=datetime.now(UTC),
            customers_topic=TOPIC,
        )
    async with sessions() as session:
        (found,) = await customers.find_customers(session=session, email=EMAIL)
    customer_id = found.customer.customer_id
    async with transaction(sessions) as session:
        await flows.change_consent(
            session=session,
            customer_id=customer_id,
            channel=ConsentChannel.SMS,
            purpose=ConsentPurpose.MARKETING,
            change=ConsentChange(status=ConsentStatus.GRANTED, proof=PROOF),
            customers_topic=TOPIC,
            now=datetime.now(UTC),
        )
    return customer_id


async def test_erasure_leaves_no_personal_data_in_any_table(
    sessions, make_order, order_event, scan
) -> None:
    customer_id = await person(sessions, make_order, order_event)
    await relay(sessions)
    async with sessions() as session:
        before = await scan(session, PERSONAL_VALUES)
    # The scan sees every value where it was stored (the raw phone never is, only its E.164
    # form), so an empty scan below means something.
    assert {hit.split(": ", 1)[1] for hit in before} == set(PERSONAL_VALUES) - {PHONE}

    done = await erase(sessions, customer_id)

    assert done is not None
    assert (done.customer_id, done.erased_ids, done.already_erased) == (
        customer_id,
        [customer_id],
        False,
    )
    async with sessions() as session:
        assert await scan(session, PERSONAL_VALUES) == []
        tombstone = await customer_rows.get_customer(session=session, customer_id=customer_id)
        identities = await customer_rows.identities_of(session=session, customer_id=customer_id)
        orders = await customer_rows.orders_of(session=session, customer_id=customer_id)
    assert tombstone is not None
    assert (tombstone.orders_count, tombstone.total_spent, tombstone.currency) == (
        2,
        Decimal("42.50"),
        "USD",
    )
    assert (tombstone.email, tombstone.first_name, tombstone.accepts_marketing) == (
        None,
        None,
        False,
    )
    assert identities == []
    assert len(orders) == 2
    events = await outbox(sessions)
    assert [(e["type"], e["subject"]) for e in events] == [("crm.customer.erased", customer_id)]
    assert events[0]["data"] == {
        "customer_id": customer_id,
        "erased_at": done.erased_at.isoformat().replace("+00:00", "Z"),
    }


async def test_erasing_again_answers_the_first_erasure_and_changes_nothing(
    sessions, make_order, order_event
) -> None:
    customer_id = await person(sessions, make_order, order_event)
    first = await erase(sessions, customer_id)
    count = len(await outbox(sessions))
    again = await erase(sessions, customer_id)
    assert first is not None
    assert again is not None
    assert again.already_erased is True
    assert again.erased_at == first.erased_at
    assert len(await outbox(sessions)) == count
    assert await erase(sessions, "no-such-customer") is None


async def test_a_later_order_with_the_same_email_creates_a_new_customer(
    sessions, make_order, order_event
) -> None:
    customer_id = await person(sessions, make_order, order_event)
    await erase(sessions, customer_id)
    await relay(sessions)

    await apply(sessions, order_event(make_order(**PERSON, store_id="store-a", total="5.00")))

    async with sessions() as session:
        (found,) = await customers.find_customers(session=session, email=EMAIL)
        tombstone = await customer_rows.get_customer(session=session, customer_id=customer_id)
    assert found.customer.customer_id != customer_id
    assert (found.customer.email, found.customer.orders_count) == (EMAIL.lower(), 1)
    assert {i.normalised_value for i in found.identities} == {
        EMAIL.lower(),
        "+442079460123",
        "zq-77",
    }
    assert tombstone is not None
    assert (tombstone.orders_count, tombstone.email) == (2, None)
    assert (await outbox(sessions))[0]["type"] == "crm.customer.created"


async def test_a_newer_snapshot_of_an_erased_customers_order_counts_but_revives_no_one(
    sessions, make_order, order_event, scan
) -> None:
    order = make_order(**PERSON, total="80.00")
    await apply(sessions, order_event(order))
    async with sessions() as session:
        (found,) = await customers.find_customers(session=session, email=EMAIL)
    customer_id = found.customer.customer_id
    await erase(sessions, customer_id)
    await relay(sessions)

    refunded = make_order(
        **PERSON,
        order_id=order.order_id,
        external_id=order.external_id,
        total="80.00",
        refunded_total="30.00",
        version=2,
    )
    await apply(sessions, order_event(refunded, "crm.order.refunded"))

    async with sessions() as session:
        tombstone = await customer_rows.get_customer(session=session, customer_id=customer_id)
        assert await scan(session, PERSONAL_VALUES) == []
        owners = await session.scalar(text("SELECT count(*) FROM customer_identities"))
    assert tombstone is not None
    assert (tombstone.total_spent, tombstone.orders_count) == (Decimal("50.00"), 1)
    assert owners == 0
    assert await outbox(sessions) == []


async def test_the_access_export_holds_the_orders_consents_and_their_log(
    sessions, make_order, order_event
) -> None:
    customer_id = await person(sessions, make_order, order_event)
    async with sessions() as session:
        document = await access.export_customer(
            session=session, customer_id=customer_id, now=datetime.now(UTC)
        )
        nobody = await access.export_customer(
            session=session, customer_id="no-such-customer", now=datetime.now(UTC)
        )
    assert nobody is None
    assert document is not None
    body = json.loads(document.model_dump_json())
    assert body["profile"]["email"] == EMAIL.lower()
    assert {i["value"] for i in body["profile"]["identities"]} == {
        EMAIL.lower(),
        "+442079460123",
        "zq-77",
    }
    assert [(o["net_paid"], o["first_name"], o["phone"]) for o in body["orders"]] == [
        ("30.00", "Zelphine", "+442079460123"),
        ("12.50", "Zelphine", "+442079460123"),
    ]
    assert {(c["channel"], c["status"], c["source"]) for c in body["consents"]} == {
        ("email", "granted", "order"),
        ("sms", "granted", "api"),
    }
    assert [c["proof"] for c in body["consent_log"] if c["channel"] == "sms"] == [PROOF]
    assert len(body["consent_log"]) == 2
    [place] = body["profile"]["addresses"]
    assert (place["kinds"], place["line1"], place["city"], place["orders"]) == (
        ["account"],
        "4 Vexmoor Close",
        "Thrallingham",
        0,
    )


async def test_an_order_resolved_to_a_customer_erased_meanwhile_is_retried(
    sessions, make_order, order_event
) -> None:
    order = make_order(**PERSON)
    await apply(sessions, order_event(order))
    customer_id = await customer_id_of(sessions)
    await erase(sessions, customer_id)
    # The order's identities pointed at the customer before the erasure committed: applying it
    # now must fail (the consumer retries, and finds no owner any more) rather than revive them.
    later = make_order(**PERSON, placed_at=order.placed_at + timedelta(1))
    async with transaction(sessions) as session:
        tombstone = await customer_rows.lock_customer(session=session, customer_id=customer_id)
        assert tombstone is not None
        with pytest.raises(ErasedWhileResolving):
            await absorbed(session=session, customer=tombstone, stored=None, order=later, now=T)
        await session.rollback()
    async with sessions() as session:
        assert await customer_rows.identities_of(session=session, customer_id=customer_id) == []


async def customer_id_of(sessions: Sessions) -> str:
    async with sessions() as session:
        (found,) = await customers.find_customers(session=session, email=EMAIL)
    return found.customer.customer_id
