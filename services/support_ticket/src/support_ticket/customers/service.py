"""Keeping the support desk's customers in step with customer-profile's announcements."""

from collections.abc import Sequence

from crm_events.customer import CustomerErased, CustomerMerged, CustomerUnmerged

from support_ticket import idempotency
from support_ticket.customers import repository
from support_ticket.customers.batch import CustomerBatch, CustomerEvent, Snapshots, plan
from support_ticket.customers.events import CustomerChange
from support_ticket.customers.models import Customer
from support_ticket.customers.repository import Database

CONSUMER = "support_ticket.customers"


async def apply_customer_changes(*, database: Database, events: Sequence[CustomerEvent]) -> None:
    """Apply crm.customers.v1 changes as applying them one by one in their order would; a
    redelivered or out-of-date one changes nothing. Every write is safe to repeat: the events
    are recorded as applied only after their effects."""
    batch = await _resolve(database, CustomerBatch(events=list(events)))
    batch = plan(batch)
    await _write(database, batch)
    await idempotency.record_all_applied(
        database, consumer=CONSUMER, event_ids=batch.new_event_ids()
    )


async def apply_customer_change(
    *, database: Database, event_id: str, change: CustomerChange
) -> None:
    """Apply one crm.customers.v1 change: a batch of one."""
    await apply_customer_changes(database=database, events=[CustomerEvent(event_id, change)])


async def get_customer(*, database: Database, customer_id: str) -> Customer | None:
    """The customer, following merges to the surviving one."""
    customer = await repository.get(database=database, customer_id=customer_id)
    seen = {customer_id}
    while customer is not None and customer.merged_into and customer.merged_into not in seen:
        seen.add(customer.merged_into)
        customer = await repository.get(database=database, customer_id=customer.merged_into)
    return customer


async def _resolve(database: Database, batch: CustomerBatch) -> CustomerBatch:
    applied = await idempotency.applied_among(
        database, consumer=CONSUMER, event_ids=[e.event_id for e in batch.events]
    )
    return CustomerBatch(events=batch.events, applied_before=applied)


async def _write(database: Database, batch: CustomerBatch) -> None:
    for step in batch.steps:
        match step:
            case Snapshots():
                await repository.upsert_newest(database=database, snapshots=step.newest.values())
            case CustomerEvent(change=CustomerMerged() as merged):
                await _merge(database=database, merged=merged)
            case CustomerEvent(change=CustomerUnmerged() as unmerged):
                await repository.mark_unmerged(
                    database=database, merged_id=unmerged.merged_id, at=unmerged.unmerged_at
                )
            case CustomerEvent(change=CustomerErased() as erased):
                await repository.erase(
                    database=database, customer_id=erased.customer_id, at=erased.erased_at
                )


async def _merge(*, database: Database, merged: CustomerMerged) -> None:
    # Point at the survivor the merge names, not at the end of its chain: undoing this merge
    # then only has to unlink the merged customer, and the customers merged into it before stay
    # with it, as they did in customer-profile.
    survivor = await get_customer(database=database, customer_id=merged.survivor_id)
    await repository.mark_merged(
        database=database,
        merged_id=merged.merged_id,
        survivor_id=merged.survivor_id,
        at=merged.merged_at,
    )
    # The survivor's erasure travels on its own partition and may have come first.
    if survivor is not None and survivor.erased:
        await repository.erase(
            database=database, customer_id=survivor.customer_id, at=merged.merged_at
        )
