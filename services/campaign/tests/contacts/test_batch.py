"""A batch's rules in memory, and the consumer's verdict on a batch: no infrastructure."""

from datetime import UTC, datetime, timedelta
from typing import Any

from campaign.contacts import consumers, service
from campaign.contacts.batch import ContactBatch, CustomerEvent, apply_changes, survivor_of
from crm_common.envelope import CloudEvent
from crm_events.customer import (
    CUSTOMER_CREATED,
    CUSTOMER_UPDATED,
    CustomerErased,
    CustomerMerged,
    CustomerSnapshot,
)
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import async_sessionmaker

AT = datetime(2026, 11, 4, 9, tzinfo=UTC)


def batch_of(*changes: Any) -> ContactBatch:
    return ContactBatch(events=[CustomerEvent(f"e-{n}", c) for n, c in enumerate(changes)])


def test_versions_out_of_order_in_one_batch_end_at_the_newest(new_customer):
    data = new_customer()
    versions = [2, 3, 1]
    snapshots = [
        CustomerSnapshot.model_validate({**data, "version": v, "email": f"v{v}@example.com"})
        for v in versions
    ]

    batch = apply_changes(batch_of(*snapshots))

    contact = batch.contacts[data["customer_id"]]
    assert (contact.version, contact.email) == (3, "v3@example.com")
    assert batch.changed == {data["customer_id"]}


def test_customers_and_their_merge_in_one_batch(new_customer):
    survivor, merged = new_customer(), new_customer()
    merge = CustomerMerged(
        merge_id="m-1",
        survivor_id=survivor["customer_id"],
        merged_id=merged["customer_id"],
        merged_at=AT,
    )

    batch = apply_changes(
        batch_of(
            CustomerSnapshot.model_validate(survivor),
            CustomerSnapshot.model_validate(merged),
            merge,
        )
    )

    stored = batch.contacts[merged["customer_id"]]
    assert stored.merged_into == survivor["customer_id"]
    assert stored.email == merged["email"]  # its own data is kept for an undo
    assert stored.updated_at == AT
    found = survivor_of(batch.contacts, merged["customer_id"])
    assert found is not None
    assert found.customer_id == survivor["customer_id"]


def test_erasure_then_merge_in_one_batch_erases_the_merged_one(new_customer):
    survivor, merged = new_customer(), new_customer()
    batch = apply_changes(
        batch_of(
            CustomerSnapshot.model_validate(survivor),
            CustomerSnapshot.model_validate(merged),
            CustomerErased(customer_id=survivor["customer_id"], erased_at=AT),
            CustomerMerged(
                merge_id="m-1",
                survivor_id=survivor["customer_id"],
                merged_id=merged["customer_id"],
                merged_at=AT + timedelta(seconds=1),
            ),
            CustomerSnapshot.model_validate({**merged, "version": 5}),
        )
    )

    for data in (survivor, merged):
        contact = batch.contacts[data["customer_id"]]
        assert contact.erased is True
        assert (contact.email, contact.phone, contact.first_name) == (None, None, None)


async def test_an_event_breaking_its_contract_is_rejected_by_position_and_the_rest_apply(
    monkeypatch, new_customer
):
    applied: list[CustomerEvent] = []

    async def apply_customer_changes(*, session: Any, events: Any) -> None:
        applied.extend(events)

    monkeypatch.setattr(service, "apply_customer_changes", apply_customer_changes)
    good = [
        CloudEvent[dict[str, Any]](source="t", type=CUSTOMER_CREATED.type, data=new_customer())
        for _ in range(2)
    ]
    broken = CloudEvent[dict[str, Any]](
        source="t", type=CUSTOMER_UPDATED.type, data=new_customer(version=0)
    )
    handle = consumers.customer_events_handler(async_sessionmaker())

    rejected = await handle([good[0], broken, good[1]])

    assert list(rejected) == [1]
    assert isinstance(rejected[1], ValidationError)
    assert [event.event_id for event in applied] == [good[0].id, good[1].id]
