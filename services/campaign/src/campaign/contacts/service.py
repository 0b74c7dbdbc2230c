"""Keeping the contact list in step with customer-profile's announcements."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from campaign.contacts import repository
from campaign.contacts.batch import (
    ContactBatch,
    CustomerEvent,
    apply_changes,
    first_deliveries,
)
from campaign.contacts.events import CustomerChange
from campaign.contacts.models import Contact

CONSUMER = "campaign.contacts"


async def apply_customer_changes(*, session: AsyncSession, events: Sequence[CustomerEvent]) -> None:
    """Apply crm.customers.v1 changes as applying them one by one in their order would; a
    redelivered or out-of-date one changes nothing. The caller commits."""
    batch = await _claim(session, ContactBatch(events=list(events)))
    batch = await _resolve(session, batch)
    batch = apply_changes(batch)
    await repository.upsert(session=session, contacts=batch.changed_contacts())


async def apply_customer_change(
    *, session: AsyncSession, event_id: str, change: CustomerChange
) -> None:
    """Apply one crm.customers.v1 change: a batch of one."""
    await apply_customer_changes(session=session, events=[CustomerEvent(event_id, change)])


async def get_contact(*, session: AsyncSession, customer_id: str) -> Contact | None:
    """The contact, following merges to the surviving customer."""
    contact = await repository.get(session=session, customer_id=customer_id)
    seen = {customer_id}
    while contact is not None and contact.merged_into and contact.merged_into not in seen:
        seen.add(contact.merged_into)
        contact = await repository.get(session=session, customer_id=contact.merged_into)
    return contact


async def _claim(session: AsyncSession, batch: ContactBatch) -> ContactBatch:
    # Claims commit with the effects: an event whose batch fails is claimed again on retry.
    claimed = await repository.claim(
        session=session, consumer=CONSUMER, event_ids=[e.event_id for e in batch.events]
    )
    return ContactBatch(events=first_deliveries(batch.events, claimed))


async def _resolve(session: AsyncSession, batch: ContactBatch) -> ContactBatch:
    if not batch.events:
        return batch
    rows = await repository.lock(
        session=session, named=batch.ids_named(), linked=batch.ids_linked()
    )
    return ContactBatch(events=batch.events, contacts={row.customer_id: row for row in rows})
