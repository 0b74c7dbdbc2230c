"""The abandonment rule as pure functions: when a checkout is idle, and which orders follow it."""

from dataclasses import dataclass
from datetime import datetime, timedelta


def normalized_email(raw: str | None) -> str | None:
    """Emails are compared case-insensitively: shops send them as the customer typed them."""
    if raw is None:
        return None
    return raw.strip().lower() or None


@dataclass(frozen=True, slots=True)
class CheckoutRefs:
    """What ties a checkout to the order placed from it."""

    store_id: str
    external_id: str
    cart_external_id: str | None
    customer_external_id: str | None
    email: str | None
    """Normalised (`normalized_email`)."""
    started_at: datetime


@dataclass(frozen=True, slots=True)
class OrderRefs:
    """What an order says about where it came from and who placed it."""

    store_id: str
    checkout_id: str | None
    cart_token: str | None
    customer_external_id: str | None
    email: str | None
    """Normalised (`normalized_email`)."""
    placed_at: datetime


def is_idle(
    *, updated_at: datetime, received_at: datetime, now: datetime, abandon_after: timedelta
) -> bool:
    """No activity for `abandon_after`, by the shop's clock (`updated_at`) and by ours
    (`received_at`, when the last change was stored): a checkout delivered late still leaves its
    order that long to arrive."""
    cutoff = now - abandon_after
    return updated_at <= cutoff and received_at <= cutoff


def order_follows(checkout: CheckoutRefs, order: OrderRefs) -> bool:
    """Whether `order` was placed from `checkout`, or by its customer after it started.

    Same store, and either the order names the checkout (`checkout_id`) or its cart
    (`cart_token`), whenever it was placed; or it was placed at or after the checkout started
    by the same customer (same email, case-insensitively, or same shop customer id).
    """
    if order.store_id != checkout.store_id:
        return False
    if order.checkout_id is not None and order.checkout_id == checkout.external_id:
        return True
    if checkout.cart_external_id is not None and order.cart_token == checkout.cart_external_id:
        return True
    if order.placed_at < checkout.started_at:
        return False
    if checkout.email is not None and order.email == checkout.email:
        return True
    return (
        checkout.customer_external_id is not None
        and order.customer_external_id == checkout.customer_external_id
    )
