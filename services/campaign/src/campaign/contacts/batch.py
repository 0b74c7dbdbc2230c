"""A batch of crm.customers.v1 changes applied to the contact list as applying them one by one,
in offset order, would: the rules run in memory on the contacts the batch touches, read once,
and the contacts they changed are written back in one statement."""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from crm_events.customer import CustomerErased, CustomerMerged, CustomerSnapshot, CustomerUnmerged

from campaign.contacts.events import CustomerChange


@dataclass(frozen=True)
class CustomerEvent:
    event_id: str
    change: CustomerChange


@dataclass(frozen=True)
class ContactRow:
    """A `contacts` row as the batch reads and writes it (no ORM object: thousands per batch)."""

    customer_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    accepts_marketing: bool
    merged_into: str | None
    erased: bool
    version: int
    updated_at: datetime


@dataclass
class ContactBatch:
    """The state of one batch, handed from stage to stage: its events, then the contacts they
    touch as stored, then as changed."""

    events: list[CustomerEvent]
    contacts: dict[str, ContactRow] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)

    def ids_named(self) -> set[str]:
        """Every customer id the batch's events name."""
        return {customer_id for event in self.events for customer_id in _named(event.change)}

    def ids_linked(self) -> set[str]:
        """The ids of merges, undos and erasures: their merge chains must be in memory too."""
        return {
            customer_id
            for event in self.events
            if not isinstance(event.change, CustomerSnapshot)
            for customer_id in _named(event.change)
        }

    def changed_contacts(self) -> list[ContactRow]:
        return [self.contacts[customer_id] for customer_id in sorted(self.changed)]


def _named(change: CustomerChange) -> tuple[str, ...]:
    match change:
        case CustomerSnapshot() | CustomerErased():
            return (change.customer_id,)
        case CustomerMerged() | CustomerUnmerged():
            return (change.merged_id, change.survivor_id)


def apply_changes(batch: ContactBatch) -> ContactBatch:
    """Apply the batch's events in order to its contacts (which hold every contact linked by a
    merge to one the events name)."""
    for event in batch.events:
        match event.change:
            case CustomerSnapshot() as snapshot:
                _upsert_newer(batch, snapshot)
            case CustomerMerged() as merged:
                _merge(batch, merged)
            case CustomerUnmerged() as unmerged:
                current = batch.contacts.get(unmerged.merged_id)
                if current is not None and current.merged_into is not None:
                    _put(batch, replace(current, merged_into=None, updated_at=unmerged.unmerged_at))
            case CustomerErased() as erased:
                _erase(batch, erased.customer_id, erased.erased_at)
    return batch


def survivor_of(contacts: dict[str, ContactRow], customer_id: str) -> ContactRow | None:
    """The contact, following merges to the surviving customer (None when the chain ends at a
    contact not known)."""
    contact = contacts.get(customer_id)
    seen = {customer_id}
    while contact is not None and contact.merged_into and contact.merged_into not in seen:
        seen.add(contact.merged_into)
        contact = contacts.get(contact.merged_into)
    return contact


def _put(batch: ContactBatch, contact: ContactRow) -> None:
    batch.contacts[contact.customer_id] = contact
    batch.changed.add(contact.customer_id)


def _upsert_newer(batch: ContactBatch, snapshot: CustomerSnapshot) -> None:
    # An erased contact is a tombstone: no later version brings its data back.
    current = batch.contacts.get(snapshot.customer_id)
    if current is not None and (current.erased or current.version >= snapshot.version):
        return
    _put(
        batch,
        ContactRow(
            customer_id=snapshot.customer_id,
            email=snapshot.email,
            phone=snapshot.phone,
            first_name=snapshot.first_name,
            last_name=snapshot.last_name,
            accepts_marketing=snapshot.accepts_marketing,
            merged_into=None if current is None else current.merged_into,
            erased=False,
            version=snapshot.version,
            updated_at=snapshot.updated_at,
        ),
    )


def _merge(batch: ContactBatch, merged: CustomerMerged) -> None:
    # Point at the survivor the merge names, not at the end of its chain: undoing this merge
    # then only has to unlink the merged contact, and the contacts merged into it before stay
    # with it, as they did in customer-profile.
    survivor = survivor_of(batch.contacts, merged.survivor_id)
    current = batch.contacts.get(merged.merged_id) or _blank(merged.merged_id, merged.merged_at)
    _put(batch, replace(current, merged_into=merged.survivor_id, updated_at=merged.merged_at))
    # The survivor's erasure travels on its own partition and may have come first.
    if survivor is not None and survivor.erased:
        _erase(batch, survivor.customer_id, merged.merged_at)


def _erase(batch: ContactBatch, customer_id: str, at: datetime) -> None:
    """Blank `customer_id` and every contact merged into it, directly or down the chain."""
    current = batch.contacts.get(customer_id) or _blank(customer_id, at)
    _put(batch, _blanked(current, at))
    for merged_id in _merged_into(batch.contacts, customer_id):
        _put(batch, _blanked(batch.contacts[merged_id], at))


def _merged_into(contacts: dict[str, ContactRow], customer_id: str) -> set[str]:
    children: dict[str, list[str]] = {}
    for contact in contacts.values():
        if contact.merged_into is not None:
            children.setdefault(contact.merged_into, []).append(contact.customer_id)
    found: set[str] = set()
    frontier = [customer_id]
    while frontier:
        # Skipping ids already found ends the walk even on a cycle of merges.
        frontier = [c for parent in frontier for c in children.get(parent, ()) if c not in found]
        found.update(frontier)
    return found


def _blank(customer_id: str, at: datetime) -> ContactRow:
    return ContactRow(customer_id, None, None, None, None, False, None, False, 0, at)


def _blanked(contact: ContactRow, at: datetime) -> ContactRow:
    return replace(
        contact,
        email=None,
        phone=None,
        first_name=None,
        last_name=None,
        accepts_marketing=False,
        erased=True,
        updated_at=at,
    )


def first_deliveries(events: Sequence[CustomerEvent], claimed: set[str]) -> list[CustomerEvent]:
    """The events whose ids were claimed now, each once (a batch may hold a redelivery)."""
    unseen = set(claimed)
    kept: list[CustomerEvent] = []
    for event in events:
        if event.event_id in unseen:
            unseen.discard(event.event_id)
            kept.append(event)
    return kept
