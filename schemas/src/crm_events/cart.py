"""Cart and checkout events that order-sync publishes on `crm.carts.v1`.

order-sync gives each cart and checkout its own id (stable for a shop's cart or checkout id);
carts are keyed by `cart_id`, checkouts by `checkout_id`. Each event carries the whole cart or
checkout as stored, with a `version` that grows with every stored change: keep the highest.
"""

from typing import Any

from crm_common.contracts import EventContract
from pydantic import Field

from crm_events._base import ContractModel
from crm_events.shop_activity import CartLine, ShopContact
from crm_events.topics import CRM_CARTS
from crm_events.types import Currency, ExternalId, Money, NonEmptyStr, OptionalText, UtcDatetime

__all__ = [
    "CART_CONTRACTS",
    "CART_UPDATED",
    "CHECKOUT_ABANDONED",
    "CHECKOUT_STARTED",
    "CartSnapshot",
    "CartUpdated",
    "CheckoutAbandoned",
    "CheckoutSnapshot",
    "CheckoutStarted",
]


class CartSnapshot(ContractModel):
    """A cart as order-sync stores it."""

    cart_id: NonEmptyStr
    """Our id for the cart (the Kafka key and CloudEvent subject)."""
    store_id: NonEmptyStr
    external_id: ExternalId
    """The shop's cart id."""
    customer: ShopContact | None = None
    lines: list[CartLine] = Field(default_factory=list)
    currency: Currency
    total: Money
    updated_at: UtcDatetime
    """Last change at the shop."""
    version: int = Field(ge=1)


class CartUpdated(CartSnapshot):
    """A cart was created or changed (lines, customer, total)."""


class CheckoutSnapshot(ContractModel):
    """A checkout as order-sync stores it."""

    checkout_id: NonEmptyStr
    """Our id for the checkout (the Kafka key and CloudEvent subject)."""
    store_id: NonEmptyStr
    external_id: ExternalId
    """The shop's checkout id."""
    cart_id: str | None = None
    """Our id of the cart it was started from, when the shop named one."""
    cart_external_id: ExternalId | None = None
    """The shop's id (token) of that cart."""
    customer: ShopContact | None = None
    lines: list[CartLine] = Field(default_factory=list)
    currency: Currency
    total: Money
    started_at: UtcDatetime
    updated_at: UtcDatetime
    """Last activity in the checkout."""
    recovery_url: OptionalText = None
    version: int = Field(ge=1)


class CheckoutStarted(CheckoutSnapshot):
    """A customer started a checkout (announced once, when order-sync first sees it)."""


class CheckoutAbandoned(CheckoutSnapshot):
    """A checkout saw no activity for the configured time (one hour by default) and no order
    followed it. Announced once per checkout."""

    abandoned_at: UtcDatetime
    """When order-sync decided it was abandoned."""


_CUSTOMER: dict[str, Any] = {"external_id": "c-1", "email": "Ann@Example.com"}
_LINES: list[dict[str, Any]] = [
    {"sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "12.50", "product_id": "p-7"}
]
_CART: dict[str, Any] = {
    "cart_id": "0c0f5e43-8a0e-5b52-9d0b-3b8c1c7d2a11",
    "store_id": "demo",
    "external_id": "c7a1f0",
    "customer": _CUSTOMER,
    "lines": _LINES,
    "currency": "USD",
    "total": "25.00",
    "updated_at": "2026-11-01T09:40:00Z",
    "version": 1,
}
_CHECKOUT: dict[str, Any] = {
    "checkout_id": "7d3f1b9e-2c4a-5e6f-8a9b-0c1d2e3f4a5b",
    "store_id": "demo",
    "external_id": "981820079255243537",
    "cart_id": "0c0f5e43-8a0e-5b52-9d0b-3b8c1c7d2a11",
    "cart_external_id": "c7a1f0",
    "customer": _CUSTOMER,
    "lines": _LINES,
    "currency": "USD",
    "total": "32.00",
    "started_at": "2026-11-01T09:45:00Z",
    "updated_at": "2026-11-01T09:47:00Z",
    "recovery_url": "https://demo.example/checkouts/981820079255243537/recover?key=k",
    "version": 1,
}
_ABANDONED: dict[str, Any] = {**_CHECKOUT, "abandoned_at": "2026-11-01T10:47:30Z"}


def _contract(
    event_type: str, model: type[Any], example: dict[str, Any], key: str
) -> EventContract[Any]:
    return EventContract(
        type=event_type,
        version=1,
        domain="cart",
        model=model,
        topic=CRM_CARTS,
        example=example,
        key=key,
        source="order-sync",
    )


CART_UPDATED = _contract("crm.cart.updated", CartUpdated, _CART, "cart_id")
CHECKOUT_STARTED = _contract("crm.checkout.started", CheckoutStarted, _CHECKOUT, "checkout_id")
CHECKOUT_ABANDONED = _contract(
    "crm.checkout.abandoned", CheckoutAbandoned, _ABANDONED, "checkout_id"
)

CART_CONTRACTS: tuple[EventContract[Any], ...] = (
    CART_UPDATED,
    CHECKOUT_STARTED,
    CHECKOUT_ABANDONED,
)
