"""Key rotation against a real PostgreSQL database: everything ends under the active key."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from crm_common.db import transaction
from crm_events.customer import ConsentChannel, ConsentPurpose, ConsentStatus
from customer_profile import pii
from customer_profile.consents import flows
from customer_profile.consents.schemas import ConsentChange
from customer_profile.customers import service as customers
from customer_profile.merges import service as merges
from customer_profile.pii import rotation
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

TOPIC = "crm.customers.v1"
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def keys() -> Iterator[pii.Keyring]:
    """The test keyring (test1 and test2, test2 active), put back after the test."""
    installed = pii.keyring()
    yield installed
    pii.configure(installed)


async def order(sessions: Sessions, event: object) -> None:
    async with transaction(sessions) as session:
        await customers.apply_order_event(
            session=session,
            event=event,  # type: ignore[arg-type]
            customers_topic=TOPIC,
        )


async def test_rotation_rewrites_every_old_ciphertext_in_batches_and_loses_nothing(
    sessions: Sessions, keys: pii.Keyring, make_order, order_event
) -> None:
    # Written by a replica still on the old configuration: test1 active.
    pii.configure(keys.with_active_key("test1"))
    first = make_order(email="Rhea@Example.com", first_name="Rhea", phone="+14155550123")
    second = make_order(email="theo@example.com", first_name="Theo", last_name="Quist")
    await order(sessions, order_event(first))
    await order(sessions, order_event(second))
    async with sessions() as session:
        (rhea,) = await customers.find_customers(session=session, email="rhea@example.com")
        (theo,) = await customers.find_customers(session=session, email="theo@example.com")
    async with transaction(sessions) as session:
        await flows.change_consent(
            session=session,
            customer_id=rhea.customer.customer_id,
            channel=ConsentChannel.EMAIL,
            purpose=ConsentPurpose.MARKETING,
            change=ConsentChange(status=ConsentStatus.GRANTED, proof={"ip": "192.0.2.7"}),
            customers_topic=TOPIC,
            now=datetime.now(UTC),
        )
        await merges.merge_manually(
            session=session,
            survivor_id=rhea.customer.customer_id,
            merged_id=theo.customer.customer_id,
            actor="admin@test",
            customers_topic=TOPIC,
            note="Theo Quist is Rhea's second account",
        )
    columns = rotation.encrypted_columns()
    async with sessions() as session:
        before = await rotation.key_usage(session=session, columns=columns)
    assert {key for usage in before.values() for key in usage} == {"test1"}
    assert before["customers.email"] == {"test1": 2}

    # The new configuration: test2 active; one more order meanwhile, under test2.
    pii.configure(keys)
    third = make_order(
        email="rhea@example.com",
        placed_at=first.placed_at + timedelta(days=1),
        first_name="Rhea",
        last_name="Vale",
    )
    await order(sessions, order_event(third))
    async with sessions() as session:
        mixed = await rotation.key_usage(session=session, columns=columns)
    report = await rotation.rotate(sessions=sessions, columns=columns, batch_size=2)

    async with sessions() as session:
        after = await rotation.key_usage(session=session, columns=columns)
        (found,) = await customers.find_customers(session=session, email="RHEA@example.com")
        log, _ = await merges.log_page(session=session, customer_id=None, after_seq=0, limit=5)
    assert report.active_key == "test2"
    # Theo's row and the merge log were left alone by the third order: still under test1.
    assert mixed["customers.email"]["test1"] >= 1
    assert mixed["merge_log.snapshot"] == {"test1": 1}
    assert mixed["customer_orders.email"] == {"test1": 2, "test2": 1}
    assert report.rewritten == {name: usage.get("test1", 0) for name, usage in mixed.items()}
    assert {key for usage in after.values() for key in usage} == {"test2"}
    assert sum(after["customer_orders.email"].values()) == 3
    assert (found.customer.email, found.customer.first_name, found.customer.last_name) == (
        "rhea@example.com",
        "Rhea",
        "Vale",
    )
    assert {i.normalised_value for i in found.identities} == {
        "rhea@example.com",
        "+14155550123",
        "theo@example.com",
    }
    assert log[0].note == "Theo Quist is Rhea's second account"
    assert log[0].snapshot["merged"]["first_name"] == "Theo"

    again = await rotation.rotate(sessions=sessions, columns=columns, batch_size=2)
    assert set(again.rewritten.values()) == {0}
