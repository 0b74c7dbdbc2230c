"""Customers to and from the event contracts of `crm.customers.v1`."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from crm_common.envelope import CloudEvent
from crm_events.customer import (
    CUSTOMER_CREATED,
    CUSTOMER_IDENTITY_LINKED,
    CUSTOMER_ORDER_ATTRIBUTED,
    CUSTOMER_UPDATED,
    CustomerCreated,
    CustomerIdentityLinked,
    CustomerOrderAttributed,
    CustomerStats,
    CustomerUpdated,
    Identity,
    IdentityKind,
)

from customer_profile.customers.identities import PRIORITY
from customer_profile.customers.models import Customer, CustomerIdentity, CustomerOrder

SOURCE = "customer-profile"


@dataclass(frozen=True, slots=True)
class Attributes:
    """A customer's tags (sorted) and traits, as the profile and customer events show them."""

    tags: list[str] = field(default_factory=list)
    traits: dict[str, Any] = field(default_factory=dict)


NO_ATTRIBUTES = Attributes()


def identity(row: CustomerIdentity) -> Identity:
    return Identity(
        kind=IdentityKind(row.kind), value=row.normalised_value, store_id=row.store_id or None
    )


def sorted_identities(rows: Sequence[CustomerIdentity]) -> list[CustomerIdentity]:
    """Highest priority first, then in the order they were linked."""
    return sorted(
        rows,
        key=lambda r: (
            PRIORITY.index(IdentityKind(r.kind)),
            r.linked_at,
            r.store_id,
            r.normalised_value,
        ),
    )


def _snapshot_fields(
    customer: Customer, identities: Sequence[CustomerIdentity], attributes: Attributes | None
) -> dict[str, Any]:
    # Without `attributes` the event leaves tags and traits null ("not stated"), never empty:
    # a consumer upserting snapshots would otherwise drop the customer's tags.
    stated = {"tags": attributes.tags, "traits": attributes.traits} if attributes else {}
    return {
        **stated,
        "customer_id": customer.customer_id,
        "email": customer.email,
        "phone": customer.phone,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "accepts_marketing": customer.accepts_marketing,
        "identities": [identity(row) for row in sorted_identities(identities)],
        "stats": CustomerStats(
            orders_count=customer.orders_count,
            total_spent=customer.total_spent,
            currency=customer.currency,
            first_order_at=customer.first_order_at,
            last_order_at=customer.last_order_at,
        ),
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "version": customer.version,
    }


def created(
    customer: Customer,
    identities: Sequence[CustomerIdentity],
    *,
    attributes: Attributes | None = None,
) -> CloudEvent[Any]:
    data = CustomerCreated(**_snapshot_fields(customer, identities, attributes))
    return CUSTOMER_CREATED.event(data, source=SOURCE)


def updated(
    customer: Customer,
    identities: Sequence[CustomerIdentity],
    *,
    attributes: Attributes | None = None,
) -> CloudEvent[Any]:
    data = CustomerUpdated(**_snapshot_fields(customer, identities, attributes))
    return CUSTOMER_UPDATED.event(data, source=SOURCE)


def identity_linked(row: CustomerIdentity) -> CloudEvent[Any]:
    data = CustomerIdentityLinked(customer_id=row.customer_id, identity=identity(row))
    return CUSTOMER_IDENTITY_LINKED.event(data, source=SOURCE)


def order_attributed(order: CustomerOrder) -> CloudEvent[Any]:
    data = CustomerOrderAttributed(
        customer_id=order.customer_id,
        order_id=order.order_id,
        store_id=order.store_id,
        order_external_id=order.external_id,
    )
    return CUSTOMER_ORDER_ATTRIBUTED.event(data, source=SOURCE)
