"""The rules on real PostgreSQL, without Kafka."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from campaign.contacts import repository, service
from campaign.contacts.batch import CustomerEvent
from campaign.main import MIGRATIONS
from crm_common import db
from crm_events.customer import CustomerErased, CustomerMerged, CustomerSnapshot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration


@pytest.fixture
async def sessions(fresh_database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = db.create_engine(fresh_database, pool_size=2)
    await db.migrate(engine, MIGRATIONS)
    yield db.session_factory(engine)
    await engine.dispose()


async def test_an_applied_event_is_not_applied_again(sessions, new_customer):
    data = new_customer()
    first = CustomerSnapshot.model_validate(data)
    async with db.transaction(sessions) as session:
        await service.apply_customer_change(session=session, event_id="e-1", change=first)

    # The same event id carrying other content: only the id decides, so nothing changes.
    altered = CustomerSnapshot.model_validate({**data, "email": "other@example.com", "version": 9})
    async with db.transaction(sessions) as session:
        await service.apply_customer_change(session=session, event_id="e-1", change=altered)

    async with sessions() as session:
        stored = await service.get_contact(session=session, customer_id=data["customer_id"])
    assert stored is not None
    assert (stored.email, stored.version) == (data["email"], 1)


async def test_a_failed_event_leaves_no_claim(sessions, new_customer):
    # The claim commits with the effect: an event whose handling failed is applied on retry.
    data = new_customer()
    change = CustomerSnapshot.model_validate(data)

    async def fail_after_applying() -> None:
        async with db.transaction(sessions) as session:
            await service.apply_customer_change(session=session, event_id="e-2", change=change)
            raise RuntimeError("the broker connection dropped")

    with pytest.raises(RuntimeError):
        await fail_after_applying()

    async with db.transaction(sessions) as session:
        await service.apply_customer_change(session=session, event_id="e-2", change=change)
    async with sessions() as session:
        stored = await service.get_contact(session=session, customer_id=data["customer_id"])
    assert stored is not None
    assert stored.email == data["email"]


async def test_erasing_a_survivor_erases_every_contact_merged_into_it_down_the_chain(
    sessions, new_customer
):
    survivor, merged, earlier = new_customer(), new_customer(), new_customer()
    at = datetime.now(UTC)
    changes = [
        *(CustomerSnapshot.model_validate(data) for data in (survivor, merged, earlier)),
        CustomerMerged(
            merge_id="m-1",
            survivor_id=merged["customer_id"],
            merged_id=earlier["customer_id"],
            merged_at=at,
        ),
        CustomerMerged(
            merge_id="m-2",
            survivor_id=survivor["customer_id"],
            merged_id=merged["customer_id"],
            merged_at=at,
        ),
        CustomerErased(customer_id=survivor["customer_id"], erased_at=at),
    ]
    for number, change in enumerate(changes):
        async with db.transaction(sessions) as session:
            await service.apply_customer_change(
                session=session, event_id=f"chain-{number}", change=change
            )

    async with sessions() as session:
        for data in (survivor, merged, earlier):
            stored = await repository.get(session=session, customer_id=data["customer_id"])
            assert stored is not None
            assert stored.erased is True
            assert (stored.email, stored.phone, stored.first_name) == (None, None, None)


async def test_a_batch_ends_as_its_events_applied_one_by_one_in_order(sessions, new_customer):
    survivor, merged = new_customer(), new_customer()
    at = datetime.now(UTC)
    older = CustomerSnapshot.model_validate({**merged, "version": 1})
    newer = CustomerSnapshot.model_validate({**merged, "version": 3, "email": "new@example.com"})
    events = [
        CustomerEvent("b-1", CustomerSnapshot.model_validate(survivor)),
        CustomerEvent("b-2", newer),
        CustomerEvent("b-3", older),
        CustomerEvent(
            "b-4",
            CustomerMerged(
                merge_id="m-1",
                survivor_id=survivor["customer_id"],
                merged_id=merged["customer_id"],
                merged_at=at,
            ),
        ),
        CustomerEvent("b-2", newer),  # a redelivery inside the batch
    ]
    async with db.transaction(sessions) as session:
        await service.apply_customer_changes(session=session, events=events)

    async with sessions() as session:
        stored = await repository.get(session=session, customer_id=merged["customer_id"])
        followed = await service.get_contact(session=session, customer_id=merged["customer_id"])
    assert stored is not None
    assert (stored.version, stored.email, stored.merged_into) == (
        3,
        "new@example.com",
        survivor["customer_id"],
    )
    assert followed is not None
    assert followed.customer_id == survivor["customer_id"]
