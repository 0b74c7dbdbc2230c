"""The customer rules: whose an order is, and what that changes about the customer."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import uuid4

from crm_common.envelope import CloudEvent
from crm_common.idempotency import first_delivery
from crm_common.outbox import add_event
from crm_events.customer import IdentityKind
from crm_events.order import ORDER_CONTRACTS, OrderSnapshot
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.addresses import service as addresses
from customer_profile.attributes import service as attributes
from customer_profile.attributes.schemas import NO_ATTRIBUTES
from customer_profile.consents import service as consents
from customer_profile.customers import events, plans, repository, resolution
from customer_profile.customers.exceptions import InvalidLookup, NoUsableIdentity
from customer_profile.customers.identities import (
    IdentityKey,
    normalise_email,
    normalise_phone,
    order_identity_keys,
)
from customer_profile.customers.memo import BatchMemo, memo_of
from customer_profile.customers.models import Customer, CustomerIdentity, CustomerOrder
from customer_profile.customers.policy import DEFAULT_POLICY, IdentityPolicy
from customer_profile.customers.profile import Profile, compute_profile, stored_profile
from customer_profile.customers.repository import OrderFacts
from customer_profile.merges import service as merges
from customer_profile.privacy import tombstone
from customer_profile.scoring import service as scoring
from customer_profile.search import indexing
from customer_profile.timeline import service as timeline

CONSUMER = "customer-profile.customers"
_CONTACT = ("email", "phone", "first_name", "last_name")
ORDER_EVENT_TYPES = frozenset(contract.type for contract in ORDER_CONTRACTS)


class CustomerView(NamedTuple):
    customer: Customer
    identities: list[CustomerIdentity]


async def apply_order_event(
    *,
    session: AsyncSession,
    event: CloudEvent[dict[str, Any]],
    customers_topic: str,
    policy: IdentityPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> None:
    """Attribute the order of one crm.orders.v1 event; a redelivered event changes nothing."""
    if event.type not in ORDER_EVENT_TYPES:
        return
    order = OrderSnapshot.model_validate(event.data)
    if not await first_delivery(session, consumer=CONSUMER, event_id=event.id):
        return
    for outgoing in await attribute_order(session=session, order=order, now=now, policy=policy):
        add_event(session, topic=customers_topic, key=outgoing.subject, event=outgoing)


async def attribute_order(
    *,
    session: AsyncSession,
    order: OrderSnapshot,
    now: datetime | None = None,
    policy: IdentityPolicy = DEFAULT_POLICY,
    keys: Sequence[IdentityKey] | None = None,
) -> list[CloudEvent[Any]]:
    """Find or create the order's customer, link the order's identities to them and refresh
    their order list and statistics; returns the customer events owed, in publishing order.
    `keys` are the order's identity keys when the caller has them already.

    Customers that the order's identities (or its earlier attribution) point at merge into the
    oldest of them; identities shared too widely give merge suggestions instead (see
    `resolution`). A snapshot no newer than the one stored changes nothing. An order keeps the
    customer it was first attributed to, or the survivor that customer merged into.
    """
    now = now or datetime.now(UTC)
    memo = memo_of(session)
    stored = await _stored_order(session, order.order_id, memo)
    if is_stale(stored, order):
        return []
    keys = list(keys) if keys is not None else order_identity_keys(order, guard=policy.guard)
    if stored is None and not keys:
        raise NoUsableIdentity(order.order_id)
    shared = await resolution.shared_keys(
        session=session, keys=keys, limit=policy.shared_identity_limit
    )
    resolved = await resolution.resolve_order(
        session=session, keys=keys, stored=stored, shared=shared
    )
    plan = resolved.plan

    is_new = plan.target is None
    if plan.target is None:
        customer = Customer(customer_id=str(uuid4()), created_at=now, updated_at=now, version=1)
        await repository.add_customer(session=session, customer=customer)
        if memo is not None:
            memo.created(customer.customer_id)
    else:
        customer = resolved.customers[plan.target]
        if await tombstone.absorbed(
            session=session, customer=customer, stored=stored, order=order, now=now
        ):
            return []

    carried = await plans.carry_out(
        session=session,
        customer=customer,
        resolved=resolved,
        keys=keys,
        actor=merges.SYSTEM,
        order_id=order.order_id,
        now=now,
        policy=policy,
    )
    outgoing, new_links = carried.events, carried.links
    # Keys held by another customer stay theirs; the order's contact data here are only the
    # keys that now point at this customer.
    own = set(plan.own)
    row = order_row(order, customer_id=customer.customer_id, own=own, now=now, stored=stored)
    if stored is None:
        repository.add_order(session=session, order=row)
        if memo is not None:
            memo.orders.add(row.order_id)
    await addresses.record_order(session=session, order=order, known=stored is not None)

    orders, stored_orders = await _orders_of(session, customer.customer_id, memo, row)
    profile = compute_profile(orders)
    consent_events, accepts_marketing = await consents.apply_order(
        session=session, customer_id=customer.customer_id, order=order, now=now
    )
    # The snapshot's accepts_marketing is the email marketing consent in force, which an
    # explicit decision holds against the order's flag.
    profile = replace(profile, accepts_marketing=accepts_marketing)
    if not is_new:
        # What no order says (a name or email from an import or the shop account) stays.
        kept = {name: getattr(customer, name) for name in _CONTACT if not getattr(profile, name)}
        profile = replace(profile, **kept)
    changed = not is_new and (
        bool(new_links) or bool(plan.merges) or profile != stored_profile(customer)
    )
    names_before = indexing.names_of(customer)
    if is_new or changed:
        _apply(customer, profile)
        await indexing.follow_names(session=session, customer=customer, before=names_before)
    if changed:
        customer.version += 1
        customer.updated_at = now
    identities = await _identities_of(session, customer.customer_id, memo)
    await timeline.record_order_event(
        session=session,
        customer_id=customer.customer_id,
        order=order,
        now=now,
        identities=identities,
    )
    await scoring.refresh(
        session=session,
        customer_ids=[customer.customer_id],
        now=now,
        orders={customer.customer_id: stored_orders},
    )

    if is_new:
        outgoing.append(events.created(customer, identities, attributes=NO_ATTRIBUTES))
    outgoing.extend(events.identity_linked(link) for link in new_links)
    if stored is None:
        outgoing.append(events.order_attributed(row))
    if changed:
        held = await attributes.attributes_of(session=session, customer_id=customer.customer_id)
        outgoing.append(events.updated(customer, identities, attributes=held))
    outgoing.extend(consent_events)
    return outgoing


async def get_customer(*, session: AsyncSession, customer_id: str) -> CustomerView | None:
    """One customer with their identities."""
    customer = await repository.get_customer(session=session, customer_id=customer_id)
    if customer is None:
        return None
    identities = await repository.identities_of(session=session, customer_id=customer_id)
    return CustomerView(customer, events.sorted_identities(identities))


async def survivor_of(*, session: AsyncSession, customer_id: str) -> str:
    """The customer that `customer_id` now lives on as: itself, or the end of its merge chain."""
    seen = {customer_id}
    current = customer_id
    while True:
        customer = await repository.get_customer(session=session, customer_id=current)
        if customer is None or customer.merged_into is None or customer.merged_into in seen:
            return current
        current = customer.merged_into
        seen.add(current)


async def find_customers(
    *,
    session: AsyncSession,
    email: str | None = None,
    phone: str | None = None,
    region: str | None = None,
    store_id: str | None = None,
    external_id: str | None = None,
) -> list[CustomerView]:
    """The customers one identity points at (none or one while merging does not exist)."""
    key = lookup_key(
        email=email, phone=phone, region=region, store_id=store_id, external_id=external_id
    )
    customers = await repository.find_by_identity(session=session, key=key)
    identities = await repository.identities_of_many(
        session=session, customer_ids=[c.customer_id for c in customers]
    )
    return [CustomerView(c, events.sorted_identities(identities[c.customer_id])) for c in customers]


def lookup_key(
    *,
    email: str | None,
    phone: str | None,
    region: str | None,
    store_id: str | None,
    external_id: str | None,
) -> IdentityKey:
    """The identity a lookup names: exactly one of email, phone (with an optional region), or
    store_id with external_id."""
    given = [
        name
        for name, present in (
            ("email", email is not None),
            ("phone", phone is not None),
            ("store_id/external_id", store_id is not None or external_id is not None),
        )
        if present
    ]
    if len(given) != 1:
        fields = ["email", "phone", "store_id", "external_id"]
        raise InvalidLookup(
            "give exactly one lookup: email, phone (optionally with region), "
            f"or store_id with external_id; got {', '.join(given) or 'none'}",
            [_error(name, "exactly one lookup is required") for name in fields],
        )
    if region is not None and phone is None:
        raise InvalidLookup("region only applies to a phone lookup", [_error("region", "no phone")])
    if email is not None:
        normalised = normalise_email(email)
        if normalised is None:
            raise InvalidLookup("email is not a valid address", [_error("email", "invalid email")])
        return IdentityKey(IdentityKind.EMAIL, normalised)
    if phone is not None:
        e164 = normalise_phone(phone, region=region)
        if e164 is None:
            raise InvalidLookup(
                "phone is not a valid number (give +<country code>, or a region)",
                [_error("phone", "invalid phone number")],
            )
        return IdentityKey(IdentityKind.PHONE, e164)
    if store_id and external_id:
        return IdentityKey(IdentityKind.STORE_REF, external_id, store_id)
    pair = (("store_id", store_id), ("external_id", external_id))
    raise InvalidLookup(
        "store_id and external_id go together, both non-empty",
        [_error(name, "required with the other") for name, value in pair if not value],
    )


def _error(name: str, message: str) -> dict[str, Any]:
    return {"field": f"query.{name}", "message": message, "type": "invalid_lookup"}


async def _identities_of(
    session: AsyncSession, customer_id: str, memo: BatchMemo | None
) -> list[CustomerIdentity]:
    if memo is not None and customer_id in memo.identities:
        return list(memo.identities[customer_id])
    return await repository.identities_of(session=session, customer_id=customer_id)


async def _orders_of(
    session: AsyncSession, customer_id: str, memo: BatchMemo | None, row: CustomerOrder
) -> tuple[list[OrderFacts], list[OrderFacts]]:
    """The customer's orders, `row` (just added or updated, theirs now) included: as the
    session shows them (`row` as just set) and as the database holds them (where the ORM did
    not write a value equal to the stored one, the stored form stays: `0` for `0.00`)."""
    held = memo.orders_of.get(customer_id) if memo is not None else None
    if held is None:
        held = {
            facts.order_id: facts
            for facts in await repository.order_facts_of(session=session, customer_id=customer_id)
        }
    else:
        held[row.order_id] = OrderFacts.of(row).settled(held.get(row.order_id))
    shown = {**held, row.order_id: OrderFacts.of(row)}
    return list(shown.values()), list(held.values())


async def _stored_order(
    session: AsyncSession, order_id: str, memo: BatchMemo | None
) -> CustomerOrder | None:
    if memo is not None and order_id not in memo.orders:
        return None  # the batch knows which of its orders are stored
    return await repository.get_order(session=session, order_id=order_id)


def is_stale(stored: CustomerOrder | None, order: OrderSnapshot) -> bool:
    """Whether `order` is no newer than the snapshot already stored (same version: same data)."""
    return stored is not None and stored.order_version >= order.version


def order_row(
    order: OrderSnapshot,
    *,
    customer_id: str,
    own: set[IdentityKey],
    now: datetime,
    stored: CustomerOrder | None,
) -> CustomerOrder:
    """The order-list row for `order`: `stored` brought up to date, or a new row."""
    contact = {key.kind: key.value for key in own if key.kind is not IdentityKind.STORE_REF}
    row = stored or CustomerOrder(
        order_id=order.order_id,
        customer_id=customer_id,
        attributed_at=now,
        store_id=order.store_id,
        external_id=order.external_id,
        placed_at=order.placed_at,
        currency=order.currency,
        net_paid=order.net_paid,
        order_version=order.version,
    )
    row.placed_at = order.placed_at
    row.currency = order.currency
    row.net_paid = order.net_paid
    row.cancelled = order.cancelled_at is not None
    row.order_version = order.version
    row.email = contact.get(IdentityKind.EMAIL)
    row.phone = contact.get(IdentityKind.PHONE)
    row.first_name = order.customer.first_name
    row.last_name = order.customer.last_name
    row.accepts_marketing = order.customer.accepts_marketing
    return row


def _apply(customer: Customer, profile: Profile) -> None:
    for name, value in profile.as_dict().items():
        setattr(customer, name, value)
