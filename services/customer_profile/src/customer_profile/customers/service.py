"""Customers as the API and the tests reach them: one order event applied, one customer read,
the customers an identity points at."""

from datetime import datetime
from typing import Any, NamedTuple

from crm_common.envelope import CloudEvent
from crm_events.customer import IdentityKind
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers import events, ingest, repository
from customer_profile.customers.exceptions import InvalidLookup, NoUsableIdentity
from customer_profile.customers.identities import IdentityKey, normalise_email, normalise_phone
from customer_profile.customers.models import Customer, CustomerIdentity
from customer_profile.customers.policy import DEFAULT_POLICY, IdentityPolicy


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
    """Attribute the order of one crm.orders.v1 event, as a batch of one; a redelivered event
    changes nothing. Raises what the batch rejects the event for."""
    outcome = await ingest.apply_order_events(
        session=session,
        events=[event],
        customers_topic=customers_topic,
        policy=policy,
        clock=(lambda: now) if now is not None else None,
    )
    if 0 in outcome.rejected:
        error = outcome.rejected[0]
        raise error.__cause__ if isinstance(error.__cause__, NoUsableIdentity) else error


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
