"""Keeping the contact list in step with customer-profile's announcements."""

from crm_common.idempotency import first_delivery
from crm_events.customer import CustomerErased, CustomerMerged, CustomerSnapshot, CustomerUnmerged
from sqlalchemy.ext.asyncio import AsyncSession

from campaign.contacts import repository
from campaign.contacts.events import CustomerChange, contact_from
from campaign.contacts.models import Contact

CONSUMER = "campaign.contacts"


async def apply_customer_change(
    *, session: AsyncSession, event_id: str, change: CustomerChange
) -> None:
    """Apply one crm.customers.v1 change; a redelivered or out-of-date one changes nothing."""
    if not await first_delivery(session, consumer=CONSUMER, event_id=event_id):
        return
    match change:
        case CustomerSnapshot():
            await repository.upsert_newer(session=session, contact=contact_from(change))
        case CustomerMerged():
            await _merge(session=session, merged=change)
        case CustomerUnmerged():
            await repository.mark_unmerged(
                session=session, merged_id=change.merged_id, at=change.unmerged_at
            )
        case CustomerErased():
            await repository.erase(
                session=session, customer_id=change.customer_id, at=change.erased_at
            )


async def get_contact(*, session: AsyncSession, customer_id: str) -> Contact | None:
    """The contact, following merges to the surviving customer."""
    contact = await repository.get(session=session, customer_id=customer_id)
    seen = {customer_id}
    while contact is not None and contact.merged_into and contact.merged_into not in seen:
        seen.add(contact.merged_into)
        contact = await repository.get(session=session, customer_id=contact.merged_into)
    return contact


async def _merge(*, session: AsyncSession, merged: CustomerMerged) -> None:
    # Point at the survivor the merge names, not at the end of its chain: undoing this merge
    # then only has to unlink the merged contact, and the contacts merged into it before stay
    # with it, as they did in customer-profile.
    survivor = await get_contact(session=session, customer_id=merged.survivor_id)
    await repository.mark_merged(
        session=session,
        merged_id=merged.merged_id,
        survivor_id=merged.survivor_id,
        at=merged.merged_at,
    )
    # The survivor's erasure travels on its own partition and may have come first.
    if survivor is not None and survivor.erased:
        await repository.erase(
            session=session, customer_id=survivor.customer_id, at=merged.merged_at
        )
