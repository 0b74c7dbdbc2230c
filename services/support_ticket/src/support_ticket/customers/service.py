"""Keeping the support desk's customers in step with customer-profile's announcements."""

from crm_events.customer import CustomerErased, CustomerMerged, CustomerSnapshot, CustomerUnmerged

from support_ticket import idempotency
from support_ticket.customers import repository
from support_ticket.customers.events import CustomerChange, customer_from
from support_ticket.customers.models import Customer
from support_ticket.customers.repository import Database

CONSUMER = "support_ticket.customers"


async def apply_customer_change(
    *, database: Database, event_id: str, change: CustomerChange
) -> None:
    """Apply one crm.customers.v1 change; a redelivered or out-of-date one changes nothing."""
    if await idempotency.already_applied(database, consumer=CONSUMER, event_id=event_id):
        return
    match change:
        case CustomerSnapshot():
            await repository.upsert_newer(database=database, customer=customer_from(change))
        case CustomerMerged():
            await _merge(database=database, merged=change)
        case CustomerUnmerged():
            await repository.mark_unmerged(
                database=database, merged_id=change.merged_id, at=change.unmerged_at
            )
        case CustomerErased():
            await repository.erase(
                database=database, customer_id=change.customer_id, at=change.erased_at
            )
    await idempotency.record_applied(database, consumer=CONSUMER, event_id=event_id)


async def get_customer(*, database: Database, customer_id: str) -> Customer | None:
    """The customer, following merges to the surviving one."""
    customer = await repository.get(database=database, customer_id=customer_id)
    seen = {customer_id}
    while customer is not None and customer.merged_into and customer.merged_into not in seen:
        seen.add(customer.merged_into)
        customer = await repository.get(database=database, customer_id=customer.merged_into)
    return customer


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
