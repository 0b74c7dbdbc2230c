"""Storefront activity from `shop.activity.v1`: who it names and what its timeline entry says.

The four contract types (`crm_events.shop_activity`) are validated against their models, so an
event breaking its contract is rejected. Any other type on the topic is read leniently:
`data.store_id` is required, and the shopper is named by `data.customer` (`external_id`,
`email`, `phone`) or by `data.customer_ref`, `data.email` and `data.phone`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from crm_events.customer import IdentityKind
from crm_events.shop_activity import (
    SHOP_CART_UPDATED,
    SHOP_CHECKOUT_STARTED,
    SHOP_CUSTOMER_IDENTIFIED,
    SHOP_PRODUCT_VIEWED,
    CartLine,
    ShopCart,
    ShopCheckout,
    ShopCustomerIdentified,
    ShopProductView,
)
from crm_events.types import ExternalId, NonEmptyStr, OptionalText
from pydantic import BaseModel, ConfigDict

from customer_profile.customers.identities import (
    IdentityGuard,
    IdentityKey,
    normalise_email,
    normalise_phone,
)
from customer_profile.pii import keyed_digest
from customer_profile.timeline.entries import Draft, event_draft, kind_of

ANONYMOUS_DIGEST_PURPOSE = "anonymous-visitor"


@dataclass(frozen=True, slots=True)
class Shopper:
    external_id: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    """One activity event as the timeline sees it."""

    store_id: str
    shopper: Shopper
    anonymous_id: str | None
    draft: Draft

    def keys(self, *, guard: IdentityGuard) -> list[IdentityKey]:
        """The valid identities the event names that `guard` lets through, highest priority
        first. A phone counts only in international form: the event names no country."""
        keys: list[IdentityKey] = []
        email = normalise_email(self.shopper.email)
        if email is not None:
            keys.append(IdentityKey(IdentityKind.EMAIL, email))
        phone = normalise_phone(self.shopper.phone)
        if phone is not None:
            keys.append(IdentityKey(IdentityKind.PHONE, phone))
        reference = self.shopper.external_id
        if reference is not None and reference.strip():
            keys.append(IdentityKey(IdentityKind.STORE_REF, reference, self.store_id))
        return [key for key in keys if not guard.blocks(key)]

    def anonymous_digest(self) -> str | None:
        """A digest standing for the shop's anonymous visitor id, under which the visitor's
        activity waits until an event names them together with an identity (keyed, as the
        identities' digests are)."""
        if self.anonymous_id is None:
            return None
        text = "\x1f".join((self.store_id, self.anonymous_id))
        return keyed_digest(ANONYMOUS_DIGEST_PURPOSE, text)


class _Shopper(BaseModel):
    model_config = ConfigDict(extra="ignore")

    external_id: ExternalId | None = None
    email: OptionalText = None
    phone: OptionalText = None


class _Lenient(BaseModel):
    """The parts of an activity event of another type that the timeline reads."""

    model_config = ConfigDict(extra="ignore")

    store_id: NonEmptyStr
    customer: _Shopper | None = None
    customer_ref: ExternalId | None = None
    email: OptionalText = None
    phone: OptionalText = None
    anonymous_id: OptionalText = None


def parse(event: CloudEvent[dict[str, Any]]) -> Activity:
    """The activity of `event`; raises pydantic's ValidationError for data its contract (or,
    for another type, the lenient reading) rejects."""
    read = _READERS.get(event.type)
    if read is not None:
        return read(event)
    data = _Lenient.model_validate(event.data)
    shopper = data.customer or _Shopper()
    return Activity(
        store_id=data.store_id,
        shopper=Shopper(
            external_id=shopper.external_id or data.customer_ref,
            email=shopper.email or data.email,
            phone=shopper.phone or data.phone,
        ),
        anonymous_id=data.anonymous_id,
        draft=event_draft(event, extra={"store_id": data.store_id}),
    )


def _shopper(contact: Any) -> Shopper:
    if contact is None:
        return Shopper()
    return Shopper(external_id=contact.external_id, email=contact.email, phone=contact.phone)


def _draft(
    event: CloudEvent[dict[str, Any]],
    *,
    at: datetime,
    reference: dict[str, str | None],
    summary: dict[str, Any] | None = None,
    source_key: str | None = None,
) -> Draft:
    return Draft(
        source_key=source_key or event.id,
        occurred_at=at,
        kind=kind_of(event.type),
        source=event.source,
        reference={name: value for name, value in reference.items() if value is not None},
        summary=summary or {},
        source_event_id=event.id,
    )


def _basket(currency: str, total: Any, lines: list[CartLine]) -> dict[str, Any]:
    return {
        "total": format(total, "f"),
        "currency": currency,
        "items": sum(line.quantity for line in lines),
    }


def _cart(event: CloudEvent[dict[str, Any]]) -> Activity:
    # One entry per revision of the cart, however often the shop sends it.
    cart = ShopCart.model_validate(event.data)
    revision = f"{cart.store_id}:{cart.cart_id}:{cart.updated_at.isoformat()}"
    return Activity(
        store_id=cart.store_id,
        shopper=_shopper(cart.customer),
        anonymous_id=None,
        draft=_draft(
            event,
            at=cart.updated_at,
            reference={"store_id": cart.store_id, "cart_id": cart.cart_id},
            summary=_basket(cart.currency, cart.total, cart.lines),
            source_key=f"{event.type}:{revision}",
        ),
    )


def _checkout(event: CloudEvent[dict[str, Any]]) -> Activity:
    # One entry per checkout: shops send it again on every step, which is no new start. The
    # recovery URL carries a secret key and stays out.
    checkout = ShopCheckout.model_validate(event.data)
    return Activity(
        store_id=checkout.store_id,
        shopper=_shopper(checkout.customer),
        anonymous_id=None,
        draft=_draft(
            event,
            at=checkout.started_at,
            reference={
                "store_id": checkout.store_id,
                "checkout_id": checkout.checkout_id,
                "cart_id": checkout.cart_id,
            },
            summary=_basket(checkout.currency, checkout.total, checkout.lines),
            source_key=f"{event.type}:{checkout.store_id}:{checkout.checkout_id}",
        ),
    )


def _view(event: CloudEvent[dict[str, Any]]) -> Activity:
    view = ShopProductView.model_validate(event.data)
    return Activity(
        store_id=view.store_id,
        shopper=_shopper(view.customer),
        anonymous_id=view.anonymous_id,
        draft=_draft(
            event,
            at=view.viewed_at,
            reference={
                "store_id": view.store_id,
                "product_id": view.product_id,
                "variant_id": view.variant_id,
            },
            summary={"sku": view.sku} if view.sku else None,
        ),
    )


def _identified(event: CloudEvent[dict[str, Any]]) -> Activity:
    identified = ShopCustomerIdentified.model_validate(event.data)
    return Activity(
        store_id=identified.store_id,
        shopper=_shopper(identified.customer),
        anonymous_id=identified.anonymous_id,
        draft=_draft(
            event, at=identified.identified_at, reference={"store_id": identified.store_id}
        ),
    )


_READERS: dict[str, Callable[[CloudEvent[dict[str, Any]]], Activity]] = {
    SHOP_CART_UPDATED.type: _cart,
    SHOP_CHECKOUT_STARTED.type: _checkout,
    SHOP_PRODUCT_VIEWED.type: _view,
    SHOP_CUSTOMER_IDENTIFIED.type: _identified,
}
