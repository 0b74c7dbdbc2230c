"""The rules on the real MongoDB-wire server, without Kafka: repeating effects is harmless."""

from datetime import UTC, datetime

import pytest
from crm_events.customer import CustomerErased, CustomerMerged, CustomerSnapshot, CustomerUnmerged
from support_ticket import indexes
from support_ticket.customers import service
from support_ticket.customers.batch import CustomerEvent

pytestmark = pytest.mark.integration


async def test_every_effect_is_safe_to_repeat_when_its_record_was_lost(database, new_customer):
    # No multi-document transactions: a crash after an effect but before its processed-event
    # record means the event is applied a second time.
    await indexes.ensure_indexes(database)
    survivor, merged, other, parted = (new_customer() for _ in range(4))
    now = datetime.now(UTC).replace(microsecond=0)
    changes = [
        CustomerSnapshot.model_validate(survivor),
        CustomerSnapshot.model_validate(merged),
        CustomerSnapshot.model_validate({**merged, "first_name": "Newer", "version": 2}),
        CustomerSnapshot.model_validate(other),
        CustomerMerged(
            merge_id="m-1",
            survivor_id=survivor["customer_id"],
            merged_id=merged["customer_id"],
            merged_at=now,
        ),
        CustomerErased(customer_id=other["customer_id"], erased_at=now),
        CustomerSnapshot.model_validate(parted),
        CustomerMerged(
            merge_id="m-2",
            survivor_id=survivor["customer_id"],
            merged_id=parted["customer_id"],
            merged_at=now,
        ),
        CustomerUnmerged(
            merge_id="m-2",
            survivor_id=survivor["customer_id"],
            merged_id=parted["customer_id"],
            unmerged_at=now,
        ),
    ]
    for number, change in enumerate(changes):
        await service.apply_customer_change(database=database, event_id=str(number), change=change)
    stored = await database["customers"].find().sort("_id").to_list()

    await database["processed_events"].delete_many({})
    for number, change in enumerate(changes):
        await service.apply_customer_change(database=database, event_id=str(number), change=change)

    assert await database["customers"].find().sort("_id").to_list() == stored
    assert await database["processed_events"].count_documents({}) == len(changes)


async def test_an_applied_event_is_not_applied_again(database, new_customer):
    await indexes.ensure_indexes(database)
    data = new_customer()
    first = CustomerSnapshot.model_validate(data)
    await service.apply_customer_change(database=database, event_id="e-1", change=first)

    # The same event id carrying other content: only the id decides, so nothing changes.
    altered = CustomerSnapshot.model_validate({**data, "email": "other@example.com", "version": 9})
    await service.apply_customer_change(database=database, event_id="e-1", change=altered)

    stored = await service.get_customer(database=database, customer_id=data["customer_id"])
    assert stored is not None
    assert stored.email == data["email"]
    assert stored.version == 1


async def test_a_batch_ends_as_its_events_applied_one_by_one_in_order(database, new_customer):
    await indexes.ensure_indexes(database)
    survivor, merged, erased = new_customer(), new_customer(), new_customer()
    now = datetime.now(UTC).replace(microsecond=0)
    newer = CustomerSnapshot.model_validate({**merged, "version": 3, "email": "new@example.com"})
    events = [
        CustomerEvent("b-1", CustomerSnapshot.model_validate(survivor)),
        CustomerEvent("b-2", newer),
        CustomerEvent("b-3", CustomerSnapshot.model_validate(merged)),
        CustomerEvent(
            "b-4",
            CustomerMerged(
                merge_id="m-1",
                survivor_id=survivor["customer_id"],
                merged_id=merged["customer_id"],
                merged_at=now,
            ),
        ),
        CustomerEvent("b-5", CustomerSnapshot.model_validate(erased)),
        CustomerEvent("b-6", CustomerErased(customer_id=erased["customer_id"], erased_at=now)),
        CustomerEvent("b-7", CustomerSnapshot.model_validate({**erased, "version": 2})),
        CustomerEvent("b-2", newer),  # a redelivery inside the batch
    ]
    await service.apply_customer_changes(database=database, events=events)

    stored = await service.get_customer(database=database, customer_id=merged["customer_id"])
    own = await database["customers"].find_one({"_id": merged["customer_id"]})
    gone = await database["customers"].find_one({"_id": erased["customer_id"]})
    assert stored is not None
    assert stored.customer_id == survivor["customer_id"]
    assert own is not None
    assert (own["version"], own["email"], own["merged_into"]) == (
        3,
        "new@example.com",
        survivor["customer_id"],
    )
    assert own["updated_at"] == now
    assert gone is not None
    assert gone["erased"] is True
    assert gone["email"] is None
    assert await database["processed_events"].count_documents({}) == 7
