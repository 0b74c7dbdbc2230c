"""Shop customer accounts (Shopify `Customer`, WooCommerce REST v3 `customer`) to the canonical
`shop.customer.upserted` (`crm_events.shop_activity.ShopCustomerUpserted`).

order-sync does not keep customers (customer-profile does): it only turns each platform's
account into the canonical form. Both platforms send the whole account with every change.
"""

from datetime import datetime
from typing import Any

from crm_events.shop_activity import ShopCustomerUpserted

from order_sync.connectors import shopify, woocommerce
from order_sync.connectors._contract import validated
from order_sync.connectors._fields import Json, Reader

SHOPIFY_CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
WOOCOMMERCE_CUSTOMER_TOPICS = frozenset({"customer.created", "customer.updated"})

# Shopify's email_marketing_consent.state values. `pending` is a double opt-in the customer has
# not confirmed yet, so no consent; `redacted` and `invalid` leave none either.
_CONSENT = {
    "subscribed": True,
    "not_subscribed": False,
    "unsubscribed": False,
    "pending": False,
    "redacted": False,
    "invalid": False,
}


def shopify_customer(payload: Json, *, store_id: str) -> ShopCustomerUpserted:
    """The canonical account a Shopify customer payload describes; raises `PayloadError`."""
    read = Reader()
    created_at = read.time(payload.get("created_at"), "created_at")
    accepts, consent_at = _shopify_consent(read, payload)
    fields: dict[str, Any] = {
        "store_id": store_id,
        "customer": {
            "external_id": _required_id(read, payload),
            "email": read.text(payload.get("email"), "email"),
            "phone": read.text(payload.get("phone"), "phone"),
            "first_name": read.text(payload.get("first_name"), "first_name"),
            "last_name": read.text(payload.get("last_name"), "last_name"),
        },
        "addresses": _shopify_addresses(read, payload),
        "accepts_marketing": accepts,
        "marketing_consent_at": consent_at,
        "tags": _tags(read, payload.get("tags")),
        "created_at": created_at,
        "updated_at": _updated_at(read, payload, "updated_at", created_at),
    }
    read.check()
    return validated(ShopCustomerUpserted, fields, origin="canonical")


def woocommerce_customer(payload: Json, *, store_id: str) -> ShopCustomerUpserted:
    """The canonical account a WooCommerce customer payload describes; raises `PayloadError`.

    WooCommerce records no marketing consent (`accepts_marketing` is null) and no tags; its
    `*_gmt` times are UTC written without an offset."""
    read = Reader()
    billing = read.obj(payload.get("billing"), "billing")
    shipping = read.obj(payload.get("shipping"), "shipping")
    created_at = read.time(payload.get("date_created_gmt"), "date_created_gmt", naive_is_utc=True)
    addresses = [
        address
        for address in (
            woocommerce._address(read, billing, "billing"),
            woocommerce._address(read, shipping, "shipping"),
        )
        if address is not None
    ]
    fields: dict[str, Any] = {
        "store_id": store_id,
        "customer": {
            "external_id": _required_id(read, payload, zero_is_none=True),
            "email": shopify._first_text(read, (payload, "email"), (billing, "billing.email")),
            "phone": shopify._first_text(
                read, (billing, "billing.phone"), (shipping, "shipping.phone")
            ),
            "first_name": shopify._first_text(
                read, (payload, "first_name"), (billing, "billing.first_name")
            ),
            "last_name": shopify._first_text(
                read, (payload, "last_name"), (billing, "billing.last_name")
            ),
        },
        "addresses": _distinct(addresses),
        "accepts_marketing": None,
        "tags": [],
        "created_at": created_at,
        "updated_at": _updated_at(
            read, payload, "date_modified_gmt", created_at, naive_is_utc=True
        ),
    }
    read.check()
    return validated(ShopCustomerUpserted, fields, origin="canonical")


def _required_id(read: Reader, payload: Json, *, zero_is_none: bool = False) -> str | None:
    # The account's id is its key on shop.activity.v1 (`<store_id>:<id>`): nothing to key by
    # without it.
    value = payload.get("id")
    if value is None or value == "" or (zero_is_none and value in (0, "0")):
        read.fail("id", "the customer's id is required")
        return None
    return read.ident(value, "id")


def _updated_at(
    read: Reader,
    payload: Json,
    field: str,
    created_at: datetime | None,
    *,
    naive_is_utc: bool = False,
) -> datetime | None:
    # A brand-new account may not have been modified yet: its creation is its last change.
    updated_at = read.time(payload.get(field), field, naive_is_utc=naive_is_utc) or created_at
    if updated_at is None and payload.get(field) in (None, ""):
        read.fail(field, "the time of the account's last change (or its creation) is required")
    return updated_at


def _shopify_consent(read: Reader, payload: Json) -> tuple[bool | None, datetime | None]:
    # email_marketing_consent replaced the deprecated accepts_marketing (and its
    # accepts_marketing_updated_at); when the shop sends neither, it says nothing.
    consent = read.obj(payload.get("email_marketing_consent"), "email_marketing_consent")
    state = consent.get("state")
    if state is not None:
        at = read.time(
            consent.get("consent_updated_at"), "email_marketing_consent.consent_updated_at"
        )
        if not isinstance(state, str):
            read.fail("email_marketing_consent.state", "expected a string")
            return None, at
        # A state Shopify adds later is not guessed at.
        return _CONSENT.get(state.lower()), at
    legacy = payload.get("accepts_marketing")
    if legacy is None:
        return None, None
    if not isinstance(legacy, bool):
        read.fail("accepts_marketing", "expected true or false")
        return None, None
    at = read.time(payload.get("accepts_marketing_updated_at"), "accepts_marketing_updated_at")
    return legacy, at


def _shopify_addresses(read: Reader, payload: Json) -> list[dict[str, Any]]:
    # `default_address` is also one of `addresses` (same id) when both are sent: listed once,
    # first.
    default = read.obj(payload.get("default_address"), "default_address")
    listed = read.items(payload.get("addresses"), "addresses")
    found: list[tuple[Any, dict[str, Any]]] = []
    if default:
        mapped = shopify._address(read, default, "default_address")
        if mapped is not None:
            found.append((default.get("id"), mapped))
    for index, address in enumerate(listed):
        mapped = shopify._address(read, address, f"addresses[{index}]")
        if mapped is None:
            continue
        same_id = address.get("id") is not None and address.get("id") == default.get("id")
        if same_id or any(mapped == seen for _, seen in found):
            continue
        found.append((address.get("id"), mapped))
    return [mapped for _, mapped in found]


def _tags(read: Reader, value: Any) -> list[str]:
    # Shopify sends one comma-separated string; a list is taken as it is.
    if isinstance(value, list):
        return [str(tag).strip() for tag in value if isinstance(tag, str) and tag.strip()]
    tags = read.text(value, "tags") or ""
    return [tag.strip() for tag in tags.split(",") if tag.strip()]


def _distinct(addresses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Billing first; a shipping address equal to it is the same place, listed once.
    found: list[dict[str, Any]] = []
    for address in addresses:
        if address not in found:
            found.append(address)
    return found
