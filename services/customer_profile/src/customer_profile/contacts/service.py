"""One contact into the customers: the identity pipeline orders go through, without an order.

The contact's email, phone and shop reference are normalised and guarded like an order's
(junk values are no identity, a value shared by too many people links and merges nobody and
gives a merge suggestion instead); every customer its identities point at merges into the
oldest, the identities nobody holds link to it, and a contact naming nobody known yet makes a
new customer: a prospect, with no orders. Contact fields: what the customer's orders say wins
(names, email and phone come from the newest order that has them); the contact fills what no
order says, replacing what an earlier contact said. A consent the contact states is recorded
under the consent precedence rules, from the origin's source (`import`, `shop`). Tags are added
and traits merged through the attributes package.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import uuid4

from crm_common.envelope import CloudEvent
from crm_events.customer import ConsentChannel, ConsentPurpose, ConsentStatus, IdentityKind
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.attributes import flows as attribute_flows
from customer_profile.attributes import service as attributes
from customer_profile.attributes.schemas import CustomerPatch, TagOperations
from customer_profile.consents import service as consents
from customer_profile.consents.models import CustomerConsent
from customer_profile.consents.rules import Decision
from customer_profile.contacts.exceptions import NoUsableContact
from customer_profile.contacts.schemas import Contact, Origin, Outcome, StatedConsent
from customer_profile.customers import events, repository, resolution
from customer_profile.customers.events import NO_ATTRIBUTES
from customer_profile.customers.identities import (
    IdentityGuard,
    IdentityKey,
    normalise_email,
    normalise_phone,
)
from customer_profile.customers.models import Customer
from customer_profile.customers.policy import DEFAULT_POLICY, IdentityPolicy
from customer_profile.customers.profile import Profile, compute_profile
from customer_profile.merges import plans
from customer_profile.scoring import service as scoring
from customer_profile.search import indexing
from customer_profile.timeline import service as timeline

CONTACT_FIELDS = ("email", "phone", "first_name", "last_name")


@dataclass(frozen=True, slots=True)
class Ingested:
    customer_id: str
    outcome: Outcome
    events: list[CloudEvent[Any]] = field(default_factory=list)
    """The customer events owed, in publishing order."""
    merges: int = 0
    suggestions: int = 0


def contact_keys(contact: Contact, *, guard: IdentityGuard) -> list[IdentityKey]:
    """The contact's valid identities that `guard` lets through, highest priority first."""
    keys: list[IdentityKey] = []
    email = normalise_email(contact.email)
    if email is not None:
        keys.append(IdentityKey(IdentityKind.EMAIL, email))
    phone = normalise_phone(contact.phone, region=contact.region)
    if phone is not None:
        keys.append(IdentityKey(IdentityKind.PHONE, phone))
    store_id, reference = _clean(contact.store_id), _clean(contact.external_id)
    if store_id is not None and reference is not None:
        keys.append(IdentityKey(IdentityKind.STORE_REF, reference, store_id))
    for kind, value, scope in contact.identities:
        if kind is IdentityKind.EMAIL and (email := normalise_email(value)) is not None:
            keys.append(IdentityKey(kind, email))
        elif kind is IdentityKind.PHONE and (phone := normalise_phone(value)) is not None:
            keys.append(IdentityKey(kind, phone))
        elif kind is IdentityKind.STORE_REF and scope and (reference := _clean(value)):
            keys.append(IdentityKey(kind, reference, scope))
    unique = list(dict.fromkeys(key for key in keys if not guard.blocks(key)))
    return sorted(unique, key=lambda key: key.rank)


async def ingest_contact(
    *,
    session: AsyncSession,
    contact: Contact,
    origin: Origin,
    now: datetime,
    policy: IdentityPolicy = DEFAULT_POLICY,
) -> Ingested:
    """Create or update the customer `contact` names; returns what happened and the events owed
    (not staged). Raises NoUsableContact, and the attributes' 422 problem for tags or traits
    beyond their bounds (the caller rolls the contact back)."""
    keys = contact_keys(contact, guard=policy.guard)
    if not keys:
        raise NoUsableContact()
    shared = await resolution.shared_keys(
        session=session, keys=keys, limit=policy.shared_identity_limit
    )
    resolved = await resolution.resolve_order(
        session=session, keys=keys, stored=None, shared=shared
    )
    plan = resolved.plan
    is_new = plan.target is None
    if plan.target is None:
        customer = Customer(customer_id=str(uuid4()), created_at=now, updated_at=now, version=1)
        names_before = indexing.names_of(customer)
        # No orders to weigh the contact against: the row goes in with its fields.
        _offer(customer, contact, own=plan.own, from_orders=None)
        await repository.add_customer(session=session, customer=customer)
    else:
        customer = resolved.customers[plan.target]
        names_before = indexing.names_of(customer)
    before = _fields(customer)

    carried = await plans.carry_out(
        session=session,
        customer=customer,
        resolved=resolved,
        keys=keys,
        actor=origin.actor,
        order_id=None,
        now=now,
        policy=policy,
    )
    outgoing, new_links = carried.events, carried.links

    if not is_new:
        orders = await repository.orders_of(session=session, customer_id=customer.customer_id)
        from_orders = compute_profile(orders) if orders else None
        _offer(customer, contact, own=plan.own, from_orders=from_orders)
    consent_events = await _record_consent(session, customer, contact, origin, now)
    changed = not is_new and (bool(new_links) or bool(plan.merges) or _fields(customer) != before)
    if is_new or changed:
        await indexing.follow_names(session=session, customer=customer, before=names_before)
    if changed:
        customer.version += 1
        customer.updated_at = now
    if new_links or plan.merges:
        await timeline.attach_pending(session=session, customer_id=customer.customer_id, now=now)
    if plan.merges:
        await scoring.refresh(session=session, customer_ids=[customer.customer_id], now=now)

    identities = await repository.identities_of(session=session, customer_id=customer.customer_id)
    if is_new:
        outgoing.append(events.created(customer, identities, attributes=NO_ATTRIBUTES))
    outgoing.extend(events.identity_linked(link) for link in new_links)
    if changed:
        held = await attributes.attributes_of(session=session, customer_id=customer.customer_id)
        outgoing.append(events.updated(customer, identities, attributes=held))
    outgoing.extend(consent_events)
    retagged = await _set_attributes(session, customer, contact, now)
    outgoing.extend(retagged)

    if is_new:
        outcome = Outcome.CREATED
    elif new_links or plan.merges:
        outcome = Outcome.LINKED
    elif changed or consent_events or retagged:
        outcome = Outcome.UPDATED
    else:
        outcome = Outcome.UNCHANGED
    return Ingested(
        customer.customer_id, outcome, outgoing, len(plan.merges), len(plan.suggestions)
    )


def _offer(
    customer: Customer,
    contact: Contact,
    *,
    own: frozenset[IdentityKey],
    from_orders: Profile | None,
) -> None:
    """What the customer's orders say wins; the contact fills the rest (a shared phone, held by
    someone else, is not this customer's to show)."""
    stated = {
        IdentityKind.EMAIL: normalise_email(contact.email),
        IdentityKind.PHONE: normalise_phone(contact.phone, region=contact.region),
    }
    owned: dict[IdentityKind, str | None] = {}
    for kind, value in stated.items():
        # The email (phone) the contact states, else the first other one it brought.
        mine = sorted(key.value for key in own if key.kind is kind)
        owned[kind] = value if value in mine else next(iter(mine), None)
    offered = {
        "email": owned[IdentityKind.EMAIL],
        "phone": owned[IdentityKind.PHONE],
        "first_name": _clean(contact.first_name),
        "last_name": _clean(contact.last_name),
    }
    for name in CONTACT_FIELDS:
        ordered = getattr(from_orders, name) if from_orders is not None else None
        value = ordered or offered[name] or getattr(customer, name)
        if value != getattr(customer, name):
            setattr(customer, name, value)


async def _record_consent(
    session: AsyncSession, customer: Customer, contact: Contact, origin: Origin, now: datetime
) -> list[CloudEvent[Any]]:
    """The contact's consents (its email marketing flag, and any decision it lists) under the
    precedence rules, from the origin's source: an explicit decision newer than one of these
    stands. The customer's accepts_marketing follows what is in force."""
    stated = list(contact.consents)
    if contact.accepts_marketing is not None:
        status = ConsentStatus.GRANTED if contact.accepts_marketing else ConsentStatus.WITHDRAWN
        stated.append(
            StatedConsent(
                ConsentChannel.EMAIL, ConsentPurpose.MARKETING, status, contact.marketing_consent_at
            )
        )
    if not stated:
        return []
    outgoing: list[CloudEvent[Any]] = []
    email_marketing: list[CustomerConsent | None] = []
    for consent in stated:
        recorded = await consents.record_decision(
            session=session,
            customer_id=customer.customer_id,
            channel=consent.channel,
            purpose=consent.purpose,
            decision=Decision(
                consent.status, origin.consent_source, consent.changed_at or origin.decided_at
            ),
            proof=dict(origin.proof),
            now=now,
        )
        outgoing.extend(recorded.events)
        if (consent.channel, consent.purpose) == (ConsentChannel.EMAIL, ConsentPurpose.MARKETING):
            email_marketing.append(recorded.consent)
    if email_marketing:
        # The decision in force after the last one recorded (whether or not it won).
        held = email_marketing[-1]
        customer.accepts_marketing = held is not None and held.status == ConsentStatus.GRANTED
    else:
        customer.accepts_marketing = await consents.accepts_email_marketing(
            session=session, customer_id=customer.customer_id
        )
    return outgoing


async def _set_attributes(
    session: AsyncSession, customer: Customer, contact: Contact, now: datetime
) -> list[CloudEvent[Any]]:
    """Tags added and traits merged as a PATCH would (a new version and its own
    `crm.customer.updated` when they change)."""
    if not contact.tags and not contact.traits:
        return []
    # Only what the contact states: a `traits` key, even null, would replace every trait.
    stated: dict[str, Any] = {}
    if contact.traits:
        stated["traits"] = contact.traits
    if contact.tags:
        stated["tags"] = TagOperations(add=list(contact.tags))
    _, outgoing = await attribute_flows.patch_customer(
        session=session, customer_id=customer.customer_id, patch=CustomerPatch(**stated), now=now
    )
    return outgoing


def _fields(customer: Customer) -> tuple[Any, ...]:
    return (*(getattr(customer, name) for name in CONTACT_FIELDS), customer.accepts_marketing)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None
