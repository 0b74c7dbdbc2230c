"""How a batch is planned, and the consumer's verdict on a batch: no infrastructure."""

from datetime import UTC, datetime
from typing import Any

from crm_common.envelope import CloudEvent
from crm_events.customer import (
    CUSTOMER_CREATED,
    CUSTOMER_UPDATED,
    CustomerErased,
    CustomerMerged,
    CustomerSnapshot,
)
from pydantic import ValidationError
from support_ticket.customers import consumers, service
from support_ticket.customers.batch import CustomerBatch, CustomerEvent, Snapshots, plan

AT = datetime(2026, 11, 4, 9, tzinfo=UTC)


def test_versions_out_of_order_fold_to_the_newest(new_customer):
    data = new_customer()
    snapshots = [CustomerSnapshot.model_validate({**data, "version": v}) for v in (2, 3, 1)]
    batch = plan(CustomerBatch(events=[CustomerEvent(f"e-{v.version}", v) for v in snapshots]))

    assert len(batch.steps) == 1
    step = batch.steps[0]
    assert isinstance(step, Snapshots)
    assert step.newest[data["customer_id"]].version == 3
    assert batch.new_event_ids() == ["e-2", "e-3", "e-1"]


def test_a_merge_waits_for_the_snapshots_of_its_customers_only(new_customer):
    survivor, merged, other = new_customer(), new_customer(), new_customer()
    merge = CustomerMerged(
        merge_id="m-1",
        survivor_id=survivor["customer_id"],
        merged_id=merged["customer_id"],
        merged_at=AT,
    )
    events = [
        CustomerEvent("e-1", CustomerSnapshot.model_validate(survivor)),
        CustomerEvent("e-2", CustomerSnapshot.model_validate(merged)),
        CustomerEvent("e-3", merge),
        CustomerEvent("e-4", CustomerSnapshot.model_validate(other)),
        CustomerEvent("e-5", CustomerErased(customer_id="someone-else", erased_at=AT)),
    ]

    steps = plan(CustomerBatch(events=events, applied_before={"e-1"})).steps

    assert [type(step).__name__ for step in steps] == [
        "Snapshots",
        "CustomerEvent",
        "CustomerEvent",
        "Snapshots",
    ]
    first, _, erasure, last = steps
    assert isinstance(first, Snapshots)
    assert isinstance(last, Snapshots)
    assert set(first.newest) == {merged["customer_id"]}  # e-1 was applied before
    assert set(last.newest) == {other["customer_id"]}  # the erasure names none of them
    assert erasure == events[4]


async def test_an_event_breaking_its_contract_is_rejected_by_position_and_the_rest_apply(
    monkeypatch, new_customer
):
    applied: list[CustomerEvent] = []

    async def apply_customer_changes(*, database: Any, events: Any) -> None:
        applied.extend(events)

    monkeypatch.setattr(service, "apply_customer_changes", apply_customer_changes)
    good = [
        CloudEvent[dict[str, Any]](source="t", type=CUSTOMER_CREATED.type, data=new_customer())
        for _ in range(2)
    ]
    broken = CloudEvent[dict[str, Any]](
        source="t", type=CUSTOMER_UPDATED.type, data=new_customer(version=0)
    )
    handle = consumers.customer_events_handler(database=None)  # type: ignore[arg-type]

    rejected = await handle([good[0], broken, good[1]])

    assert list(rejected) == [1]
    assert isinstance(rejected[1], ValidationError)
    assert [event.event_id for event in applied] == [good[0].id, good[1].id]
