"""The topics' events in segments' terms: behaviour facts by owner key, customer changes, and
the membership events campaign publishes."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from crm_common.envelope import CloudEvent
from crm_events.cart import (
    CART_UPDATED,
    CHECKOUT_ABANDONED,
    CHECKOUT_STARTED,
    CartUpdated,
    CheckoutAbandoned,
    CheckoutStarted,
)
from crm_events.customer import (
    CUSTOMER_CONSENT_CHANGED,
    CUSTOMER_CREATED,
    CUSTOMER_ERASED,
    CUSTOMER_IDENTITY_LINKED,
    CUSTOMER_MERGED,
    CUSTOMER_ORDER_ATTRIBUTED,
    CUSTOMER_UNMERGED,
    CUSTOMER_UPDATED,
    ConsentPurpose,
    CustomerConsentChanged,
    CustomerErased,
    CustomerIdentityLinked,
    CustomerMerged,
    CustomerOrderAttributed,
    CustomerSnapshot,
    CustomerUnmerged,
    Identity,
    IdentityKind,
)
from crm_events.order import (
    ORDER_CANCELLED,
    ORDER_PAID,
    ORDER_PLACED,
    ORDER_REFUNDED,
    OrderSnapshot,
)
from crm_events.segment import SEGMENT_ENTERED, SEGMENT_EXITED
from crm_events.shop_activity import ShopContact

ORDER_FACTS = {
    ORDER_PLACED.type: "order_placed",
    ORDER_PAID.type: "order_paid",
    ORDER_REFUNDED.type: "order_refunded",
    ORDER_CANCELLED.type: "order_cancelled",
}
ORDER_CONTRACTS = (ORDER_PLACED, ORDER_PAID, ORDER_REFUNDED, ORDER_CANCELLED)
CART_CONTRACTS = (CART_UPDATED, CHECKOUT_STARTED, CHECKOUT_ABANDONED)
CUSTOMER_CONTRACTS = (
    CUSTOMER_CREATED,
    CUSTOMER_UPDATED,
    CUSTOMER_IDENTITY_LINKED,
    CUSTOMER_ORDER_ATTRIBUTED,
    CUSTOMER_CONSENT_CHANGED,
    CUSTOMER_MERGED,
    CUSTOMER_UNMERGED,
    CUSTOMER_ERASED,
)
MEMBERSHIP_CONTRACTS = (SEGMENT_ENTERED, SEGMENT_EXITED)


@dataclass(frozen=True, slots=True)
class FactRow:
    """A `behaviour_facts` row. Its id makes a redelivery (or a second event announcing the
    same step, such as an order placed twice) change nothing."""

    fact_id: str
    owner_key: str
    name: str
    at: datetime
    skus: list[str]
    total: Decimal | None
    currency: str | None
    store_id: str | None
    event_id: str


def order_key(order_id: str) -> str:
    return f"order:{order_id}"


def identity_key(identity: Identity) -> str:
    if identity.kind is IdentityKind.STORE_REF:
        return f"store_ref:{identity.store_id}:{identity.value}"
    return f"{identity.kind.value}:{identity.value}"


def _contact_key(store_id: str, contact: ShopContact | None) -> str | None:
    """The owner key of a cart's visitor: the shop's customer id, else their email as
    customer-profile normalises it; None for an anonymous visitor (nothing to attribute)."""
    if contact is None:
        return None
    if contact.external_id:
        return f"store_ref:{store_id}:{contact.external_id}"
    if contact.email and contact.email.strip():
        return f"email:{contact.email.strip().lower()}"
    return None


def order_fact(event: CloudEvent[dict[str, Any]]) -> FactRow | None:
    """The fact of a crm.orders.v1 event, or None for the types segments keep nothing of.
    Raises pydantic's ValidationError when the data breaks its contract."""
    name = ORDER_FACTS.get(event.type)
    if name is None:
        return None
    order = OrderSnapshot.model_validate(event.data)
    match name:
        case "order_placed":
            at = order.placed_at
        case "order_cancelled":
            at = order.cancelled_at or event.time
        case _:
            at = order.updated_at or event.time
    return FactRow(
        fact_id=f"{name}:{order.order_id}",
        owner_key=order_key(order.order_id),
        name=name,
        at=at,
        skus=sorted({line.sku for line in order.lines if line.sku}),
        total=order.total,
        currency=order.currency,
        store_id=order.store_id,
        event_id=event.id,
    )


def cart_fact(event: CloudEvent[dict[str, Any]]) -> FactRow | None:
    """The fact of a crm.carts.v1 event, None for other types and anonymous visitors."""
    match event.type:
        case CART_UPDATED.type:
            cart = CartUpdated.model_validate(event.data)
            # Every update counts (what was carted, when): one fact per event.
            fact_id, name, at = event.id, "cart_updated", cart.updated_at
            store_id, contact, lines = cart.store_id, cart.customer, cart.lines
            total, currency = cart.total, cart.currency
        case CHECKOUT_STARTED.type:
            started = CheckoutStarted.model_validate(event.data)
            fact_id = f"checkout_started:{started.checkout_id}"
            name, at = "checkout_started", started.started_at
            store_id, contact, lines = started.store_id, started.customer, started.lines
            total, currency = started.total, started.currency
        case CHECKOUT_ABANDONED.type:
            abandoned = CheckoutAbandoned.model_validate(event.data)
            fact_id = f"checkout_abandoned:{abandoned.checkout_id}"
            name, at = "checkout_abandoned", abandoned.abandoned_at
            store_id, contact, lines = abandoned.store_id, abandoned.customer, abandoned.lines
            total, currency = abandoned.total, abandoned.currency
        case _:
            return None
    owner = _contact_key(store_id, contact)
    if owner is None:
        return None
    return FactRow(
        fact_id=fact_id,
        owner_key=owner,
        name=name,
        at=at,
        skus=sorted({line.sku for line in lines if line.sku}),
        total=total,
        currency=currency,
        store_id=store_id,
        event_id=event.id,
    )


CustomerChange = (
    CustomerSnapshot
    | CustomerIdentityLinked
    | CustomerOrderAttributed
    | CustomerConsentChanged
    | CustomerMerged
    | CustomerUnmerged
    | CustomerErased
)


def customer_change(event: CloudEvent[dict[str, Any]]) -> CustomerChange | None:
    """The change a crm.customers.v1 event announces, None for types segments ignore."""
    match event.type:
        case CUSTOMER_CREATED.type | CUSTOMER_UPDATED.type:
            return CustomerSnapshot.model_validate(event.data)
        case CUSTOMER_IDENTITY_LINKED.type:
            return CustomerIdentityLinked.model_validate(event.data)
        case CUSTOMER_ORDER_ATTRIBUTED.type:
            return CustomerOrderAttributed.model_validate(event.data)
        case CUSTOMER_CONSENT_CHANGED.type:
            consent = CustomerConsentChanged.model_validate(event.data)
            return consent if consent.purpose is ConsentPurpose.MARKETING else None
        case CUSTOMER_MERGED.type:
            return CustomerMerged.model_validate(event.data)
        case CUSTOMER_UNMERGED.type:
            return CustomerUnmerged.model_validate(event.data)
        case CUSTOMER_ERASED.type:
            return CustomerErased.model_validate(event.data)
        case _:
            return None


def profile_of(customer: CustomerSnapshot) -> dict[str, Any]:
    """The profile document trait conditions read (`consent` comes from its own events; tags
    and traits a producer did not state are left out, so the stored ones stay)."""
    profile: dict[str, Any] = {
        "email": customer.email,
        "phone": customer.phone,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "accepts_marketing": customer.accepts_marketing,
        "stats": customer.stats.model_dump(mode="json"),
    }
    if customer.tags is not None:
        profile["tags"] = customer.tags
    if customer.traits is not None:
        profile["traits"] = customer.traits
    return profile
