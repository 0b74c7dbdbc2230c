"""Consent changes through the API: they touch the customer too (its `accepts_marketing` is the
email marketing consent) and refuse erased customers."""

from datetime import datetime

from crm_common.outbox import add_event
from crm_common.problems import NotFound
from crm_events.customer import ConsentChannel, ConsentPurpose, ConsentStatus
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.attributes import service as attributes
from customer_profile.consents import service
from customer_profile.consents.exceptions import ConsentOverridden
from customer_profile.consents.rules import Decision, Outcome
from customer_profile.consents.schemas import ConsentChange
from customer_profile.customers import events as customer_events
from customer_profile.customers import repository as customers
from customer_profile.customers import service as customer_service
from customer_profile.privacy import repository as privacy
from customer_profile.privacy.exceptions import CustomerGone, MergedIntoAnother


async def change_consent(
    *,
    session: AsyncSession,
    customer_id: str,
    channel: ConsentChannel,
    purpose: ConsentPurpose,
    change: ConsentChange,
    customers_topic: str,
    now: datetime,
) -> service.Recorded:
    """Record a decision taken through the API and announce it; an email marketing change also
    updates and announces the customer. An older decision than the explicit one in force is
    refused, and so is a customer merged into another (its survivor holds its consents)."""
    customer = await customers.lock_customer(session=session, customer_id=customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id}")
    erasure = await privacy.get_erasure(session=session, customer_id=customer_id)
    if erasure is not None:
        raise CustomerGone(customer_id, erasure.erased_at)
    if customer.merged_into is not None:
        survivor = await customer_service.survivor_of(session=session, customer_id=customer_id)
        raise MergedIntoAnother(customer_id, survivor, action="record the consent on")
    recorded = await service.record_decision(
        session=session,
        customer_id=customer_id,
        channel=channel,
        purpose=purpose,
        decision=Decision(change.status, change.source, change.changed_at or now),
        proof=change.proof,
        now=now,
    )
    if recorded.outcome is Outcome.OVERRIDDEN:
        assert recorded.consent is not None
        raise ConsentOverridden(recorded.consent.changed_at, recorded.consent.source)
    outgoing = list(recorded.events)
    granted = change.status is ConsentStatus.GRANTED
    if (
        recorded.outcome is Outcome.APPLIED
        and (channel, purpose) == (ConsentChannel.EMAIL, ConsentPurpose.MARKETING)
        and customer.accepts_marketing != granted
    ):
        customer.accepts_marketing = granted
        customer.version += 1
        customer.updated_at = now
        identities = await customers.identities_of(session=session, customer_id=customer_id)
        held = await attributes.attributes_of(session=session, customer_id=customer_id)
        outgoing.append(customer_events.updated(customer, identities, attributes=held))
    for event in outgoing:
        add_event(session, topic=customers_topic, key=customer_id, event=event)
    return recorded
