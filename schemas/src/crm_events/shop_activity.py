"""Storefront activity in the suite's canonical form: what shops publish on `shop.activity.v1`.

Carts and checkouts are what order-sync keeps (and announces on `crm.carts.v1`); product views
and identifications travel on the same topic for the services that want them. Every event
carries the shop's own ids. Shops key the records by their customer reference, or by the cart
(checkout) id while the visitor is anonymous; consumers do not rely on the key for order: each
cart or checkout has an `updated_at`, and the newest revision wins.
"""

from typing import Any, Self

from crm_common.contracts import EventContract
from pydantic import ConfigDict, Field, model_validator

from crm_events._base import ContractModel
from crm_events.shop import Address
from crm_events.topics import SHOP_ACTIVITY
from crm_events.types import (
    Currency,
    ExternalId,
    Money,
    NonEmptyStr,
    OptionalText,
    UtcDatetime,
)

__all__ = [
    "ACTIVITY_CONTRACTS",
    "SHOP_CART_UPDATED",
    "SHOP_CHECKOUT_STARTED",
    "SHOP_CUSTOMER_IDENTIFIED",
    "SHOP_CUSTOMER_UPSERTED",
    "SHOP_PRODUCT_VIEWED",
    "CartLine",
    "IdentifiedContact",
    "ShopCart",
    "ShopCheckout",
    "ShopContact",
    "ShopCustomerIdentified",
    "ShopCustomerUpserted",
    "ShopProductView",
]


class ShopContact(ContractModel):
    """The visitor as the shop knows them so far; every part is optional (a guest may be
    anonymous until the checkout asks for an email)."""

    external_id: ExternalId | None = None
    """The shop's own customer id."""
    email: OptionalText = None
    """Raw, as the shop sent it."""
    phone: OptionalText = None
    """Raw, as the shop sent it."""
    first_name: OptionalText = None
    last_name: OptionalText = None


class CartLine(ContractModel):
    """One line of a cart or checkout."""

    sku: OptionalText = None
    name: OptionalText = None
    quantity: int = Field(ge=1)
    unit_price: Money
    variant_id: ExternalId | None = None
    product_id: ExternalId | None = None
    total: Money | None = None
    """Line total after discounts, when the shop states it."""


class ShopCart(ContractModel):
    """A cart as the shop sees it now (the whole cart, not a delta); an emptied cart has no
    lines."""

    store_id: NonEmptyStr
    """The connected shop this cart belongs to."""
    cart_id: ExternalId
    """The shop's cart id (or token); unique within `store_id`."""
    customer: ShopContact | None = None
    lines: list[CartLine] = Field(default_factory=list)
    currency: Currency
    total: Money
    updated_at: UtcDatetime
    """Last change at the shop: orders the revisions of one cart (newer wins)."""


class ShopCheckout(ContractModel):
    """A checkout the customer has started, as the shop sees it now. Shops send it again, with
    a later `updated_at`, whenever the customer does something in it."""

    store_id: NonEmptyStr
    checkout_id: ExternalId
    """The shop's checkout id; unique within `store_id`. An order placed from this checkout
    names it in its `checkout_id`."""
    cart_id: ExternalId | None = None
    """The shop's id (token) of the cart it was started from; an order placed from it names it
    in its `cart_token`."""
    customer: ShopContact | None = None
    lines: list[CartLine] = Field(default_factory=list)
    currency: Currency
    total: Money
    started_at: UtcDatetime
    updated_at: UtcDatetime | None = None
    """Last activity in the checkout; when absent or null, validation sets it to `started_at`."""
    recovery_url: OptionalText = None
    """Where the customer can pick the checkout up again."""
    completed_at: UtcDatetime | None = None
    """When the customer completed it (an order was placed from it): a completed checkout is
    never abandoned."""

    @model_validator(mode="after")
    def _default_updated_at(self) -> Self:
        if self.updated_at is None:
            self.updated_at = self.started_at
        return self


class ShopProductView(ContractModel):
    """A visitor looked at a product."""

    store_id: NonEmptyStr
    product_id: ExternalId
    variant_id: ExternalId | None = None
    sku: OptionalText = None
    customer: ShopContact | None = None
    anonymous_id: OptionalText = None
    """The shop's id of an anonymous visitor (cookie, device)."""
    url: OptionalText = None
    viewed_at: UtcDatetime


class IdentifiedContact(ShopContact):
    """A visitor the shop can name: at least one of email, phone or external_id is set."""

    model_config = ConfigDict(
        # The validator's rule, for consumers that only read the JSON Schema.
        json_schema_extra={
            "if": {
                "properties": {name: {"type": "null"} for name in ("email", "phone", "external_id")}
            },
            "then": False,
        }
    )

    @model_validator(mode="after")
    def _identifiable(self) -> Self:
        if self.email is None and self.phone is None and self.external_id is None:
            raise ValueError("an identified customer needs at least one of email, phone or id")
        return self


class ShopCustomerIdentified(ContractModel):
    """An anonymous visitor became known (logged in, or typed an email)."""

    store_id: NonEmptyStr
    customer: IdentifiedContact
    anonymous_id: OptionalText = None
    """The id the visitor had while anonymous, so earlier activity can be joined to them."""
    identified_at: UtcDatetime


class ShopCustomerUpserted(ContractModel):
    """A customer account as the shop holds it now (created or changed): the whole account, not
    a delta. Keyed by the shop customer ref `<store_id>:<external_id>` (or the email when the
    shop has no id); the newest `updated_at` wins whatever the arrival order."""

    store_id: NonEmptyStr
    customer: IdentifiedContact
    addresses: list[Address] = Field(default_factory=list)
    """Every address on the account, the default one first when the shop names one."""
    accepts_marketing: bool | None = None
    """Email marketing consent as the shop states it; null when the shop says nothing."""
    marketing_consent_at: UtcDatetime | None = None
    """When the shop recorded that consent (or its withdrawal), if it says."""
    tags: list[str] = Field(default_factory=list)
    created_at: UtcDatetime | None = None
    """When the account was created at the shop."""
    updated_at: UtcDatetime
    """Last change at the shop: orders the revisions of one account (newer wins)."""


_CUSTOMER: dict[str, Any] = {"external_id": "c-1", "email": "Ann@Example.com"}
_LINES: list[dict[str, Any]] = [
    {"sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "12.50", "product_id": "p-7"}
]
_CART: dict[str, Any] = {
    "store_id": "demo",
    "cart_id": "c7a1f0",
    "customer": _CUSTOMER,
    "lines": _LINES,
    "currency": "USD",
    "total": "25.00",
    "updated_at": "2026-11-01T09:40:00Z",
}
_CHECKOUT: dict[str, Any] = {
    "store_id": "demo",
    "checkout_id": "981820079255243537",
    "cart_id": "c7a1f0",
    "customer": _CUSTOMER,
    "lines": _LINES,
    "currency": "USD",
    "total": "32.00",
    "started_at": "2026-11-01T09:45:00Z",
    "updated_at": "2026-11-01T09:47:00Z",
    "recovery_url": "https://demo.example/checkouts/981820079255243537/recover?key=k",
}
_VIEW: dict[str, Any] = {
    "store_id": "demo",
    "product_id": "p-7",
    "sku": "MUG-1",
    "anonymous_id": "anon-42",
    "url": "https://demo.example/products/mug",
    "viewed_at": "2026-11-01T09:30:00Z",
}
_IDENTIFIED: dict[str, Any] = {
    "store_id": "demo",
    "customer": _CUSTOMER,
    "anonymous_id": "anon-42",
    "identified_at": "2026-11-01T09:44:00Z",
}
_UPSERTED: dict[str, Any] = {
    "store_id": "demo",
    "customer": {
        "external_id": "706405506930370084",
        "email": "Ann@Example.com",
        "phone": "+16136120707",
        "first_name": "Ann",
        "last_name": "Lee",
    },
    "addresses": [
        {
            "name": "Ann Lee",
            "line1": "151 O'Connor Street",
            "city": "Ottawa",
            "region": "ON",
            "postal_code": "K2P 2L8",
            "country": "CA",
        }
    ],
    "accepts_marketing": True,
    "marketing_consent_at": "2026-10-30T12:00:00Z",
    "tags": ["vip", "newsletter"],
    "created_at": "2026-10-01T08:00:00Z",
    "updated_at": "2026-11-01T09:50:00Z",
}


def _contract(event_type: str, model: type[Any], example: dict[str, Any]) -> EventContract[Any]:
    return EventContract(
        type=event_type,
        version=1,
        domain="shop",
        model=model,
        topic=SHOP_ACTIVITY,
        example=example,
        source="shop/demo",
    )


SHOP_CART_UPDATED = _contract("shop.cart.updated", ShopCart, _CART)
SHOP_CHECKOUT_STARTED = _contract("shop.checkout.started", ShopCheckout, _CHECKOUT)
SHOP_PRODUCT_VIEWED = _contract("shop.product.viewed", ShopProductView, _VIEW)
SHOP_CUSTOMER_IDENTIFIED = _contract(
    "shop.customer.identified", ShopCustomerIdentified, _IDENTIFIED
)
SHOP_CUSTOMER_UPSERTED = _contract("shop.customer.upserted", ShopCustomerUpserted, _UPSERTED)

ACTIVITY_CONTRACTS: tuple[EventContract[Any], ...] = (
    SHOP_CART_UPDATED,
    SHOP_CHECKOUT_STARTED,
    SHOP_PRODUCT_VIEWED,
    SHOP_CUSTOMER_IDENTIFIED,
    SHOP_CUSTOMER_UPSERTED,
)
