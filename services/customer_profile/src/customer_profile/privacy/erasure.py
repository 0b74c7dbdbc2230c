"""The right to erasure: personal data goes, an anonymous tombstone with the statistics stays.

What goes: the contact fields of the customer row, every identity (and the identity sightings
and pending storefront activity found through them), the contact data on its orders, consent
proofs, merge suggestions naming it, the timeline, and every personal value in the merge log's
snapshots and notes. What stays: the customer id with its statistics and RFM, the orders'
amounts, the consent log without proofs, the merge log's ids, the audit log.

Erasing a customer erases every customer merged into it as well (they are the same person, and
their rows and the merge log hold copies of the person's data); erasing a customer that was
merged into another is refused with the survivor to erase instead.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from crm_common.outbox import add_event
from crm_events.customer import CUSTOMER_ERASED, CustomerErased
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.addresses import service as addresses
from customer_profile.attributes import service as attributes
from customer_profile.customers import repository as customers
from customer_profile.customers import service as customer_service
from customer_profile.customers.identities import digest
from customer_profile.customers.models import Customer
from customer_profile.privacy import audit, repository
from customer_profile.privacy.exceptions import MergedIntoAnother
from customer_profile.privacy.models import CustomerErasure
from customer_profile.privacy.scrub import scrub
from customer_profile.search import indexing
from customer_profile.timeline import service as timeline

SOURCE = "customer-profile"
# The personal fields of a customer row and the value each takes on the tombstone.
PERSONAL_FIELDS: dict[str, object] = {
    "email": None,
    "phone": None,
    "first_name": None,
    "last_name": None,
    "accepts_marketing": False,
}
# A merge committing between reading the chain and locking it adds a customer to it; reading
# again under the locks catches that, and more rounds than this mean something else is wrong.
_LOCK_ROUNDS = 5


class Erasure(NamedTuple):
    customer_id: str
    erased_at: datetime
    erased_ids: list[str]
    """The customer and every customer merged into it, all erased together."""
    already_erased: bool


async def erase_customer(
    *,
    session: AsyncSession,
    customer_id: str,
    actor: str,
    customers_topic: str,
    now: datetime,
) -> Erasure | None:
    """Erase the customer's (and its merged customers') personal data from every table and
    announce `crm.customer.erased`; None when there is no such customer. Erasing again changes
    nothing and answers the first erasure."""
    locked = await _lock_with_chain(session, customer_id)
    if locked is None:
        return None
    customer, chain = locked
    done = await repository.get_erasure(session=session, customer_id=customer_id)
    if done is not None:
        return Erasure(customer_id, done.erased_at, [customer_id], already_erased=True)
    if customer.merged_into is not None:
        survivor = await customer_service.survivor_of(session=session, customer_id=customer_id)
        raise MergedIntoAnother(customer_id, survivor, action="erase")
    erased = [customer, *chain]
    ids = [row.customer_id for row in erased]
    identities = [
        customers.key_of(identity)
        for row_id in ids
        for identity in await customers.identities_of(session=session, customer_id=row_id)
    ]
    orders = [
        order
        for row_id in ids
        for order in await customers.orders_of(session=session, customer_id=row_id)
    ]
    # Everything the person was known by, to find copies in free-form JSON as well.
    known = {key.value for key in identities} | {
        value
        for row in (*erased, *orders)
        for name in ("email", "phone", "first_name", "last_name")
        if isinstance(value := getattr(row, name), str)
    }
    for row in erased:
        _blank(row, now=now)
        repository.add_erasure(
            session=session,
            erasure=CustomerErasure(
                customer_id=row.customer_id,
                erased_at=now,
                erased_by=actor,
                erased_with=None if row is customer else customer_id,
            ),
        )
    # The timeline finds the pending activity naming the person through their identities: first.
    await timeline.erase(session=session, customer_ids=ids)
    await addresses.erase(session=session, customer_ids=ids)
    await attributes.erase(session=session, customer_ids=ids)
    await indexing.forget(session=session, customer_ids=ids)
    await repository.delete_identities(session=session, customer_ids=ids)
    await repository.delete_sightings(session=session, digests=[digest(k) for k in identities])
    await repository.blank_order_contacts(session=session, customer_ids=ids)
    await repository.blank_consent_proofs(session=session, customer_ids=ids)
    await repository.delete_suggestions(session=session, customer_ids=ids)
    for entry in await repository.merge_log_of(session=session, customer_ids=ids):
        entry.snapshot = {**scrub(entry.snapshot, known), "erased": True}
        entry.note = None
    audit.record(session=session, actor=actor, action=audit.ERASE, customer_ids=ids, now=now)
    # Only the survivor is announced: consumers re-pointed the merged customers to it already,
    # and no event names a merged customer after its merge.
    event = CUSTOMER_ERASED.event(
        CustomerErased(customer_id=customer_id, erased_at=now), source=SOURCE
    )
    add_event(session, topic=customers_topic, key=customer_id, event=event)
    return Erasure(customer_id, now, ids, already_erased=False)


async def _lock_with_chain(
    session: AsyncSession, customer_id: str
) -> tuple[Customer, list[Customer]] | None:
    """The customer and every customer merged into it, all row-locked in id order."""
    chain: Sequence[str] = await repository.merged_into_chain(
        session=session, customer_id=customer_id
    )
    for _ in range(_LOCK_ROUNDS):
        locked = await customers.lock_customers(session=session, customer_ids=[customer_id, *chain])
        if customer_id not in locked:
            return None
        again = await repository.merged_into_chain(session=session, customer_id=customer_id)
        if set(again) <= set(locked):
            return locked[customer_id], [locked[i] for i in again]
        chain = again
    raise RuntimeError(f"the merges into customer {customer_id} kept changing while erasing it")


def _blank(customer: Customer, *, now: datetime) -> None:
    for name, value in PERSONAL_FIELDS.items():
        setattr(customer, name, value)
    customer.version += 1
    customer.updated_at = now
