"""The abandonment rule: when a checkout is idle, and which orders count as following it."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from order_sync.carts.rules import (
    CheckoutRefs,
    OrderRefs,
    is_idle,
    normalized_email,
    order_follows,
)

STARTED = datetime(2026, 11, 1, 9, 45, tzinfo=UTC)
HOUR = timedelta(hours=1)

CHECKOUT = CheckoutRefs(
    store_id="demo",
    external_id="981820079255243537",
    cart_external_id="c7a1f0",
    customer_external_id="c-1",
    email="ann@example.com",
    started_at=STARTED,
)
# An order of the same store that shares nothing with the checkout.
STRANGER = OrderRefs(
    store_id="demo",
    checkout_id=None,
    cart_token=None,
    customer_external_id="c-2",
    email="bob@example.com",
    placed_at=STARTED + timedelta(minutes=5),
)
BEFORE = STARTED - timedelta(minutes=5)


@pytest.mark.parametrize(
    ("updated", "received", "idle"),
    [
        (STARTED, STARTED, True),
        (STARTED + HOUR, STARTED, True),  # exactly the timeout: idle
        (STARTED + HOUR + timedelta(seconds=1), STARTED, False),  # activity since
        (STARTED, STARTED + HOUR + timedelta(seconds=1), False),  # delivered late: wait
    ],
)
def test_a_checkout_is_idle_when_both_clocks_are_past_the_timeout(
    updated: datetime, received: datetime, idle: bool
) -> None:
    now = STARTED + 2 * HOUR
    assert is_idle(updated_at=updated, received_at=received, now=now, abandon_after=HOUR) is idle


def test_an_order_sharing_nothing_does_not_follow() -> None:
    assert not order_follows(CHECKOUT, STRANGER)


@pytest.mark.parametrize(
    "order",
    [
        replace(STRANGER, checkout_id=CHECKOUT.external_id),
        replace(STRANGER, checkout_id=CHECKOUT.external_id, placed_at=BEFORE),
        replace(STRANGER, cart_token="c7a1f0"),
        replace(STRANGER, cart_token="c7a1f0", placed_at=BEFORE),
        replace(STRANGER, email="ann@example.com"),
        replace(STRANGER, email="ann@example.com", placed_at=STARTED),
        replace(STRANGER, customer_external_id="c-1"),
    ],
)
def test_an_order_naming_the_checkout_or_cart_or_by_its_customer_since_follows(
    order: OrderRefs,
) -> None:
    assert order_follows(CHECKOUT, order)


@pytest.mark.parametrize(
    "order",
    [
        replace(STRANGER, email="ann@example.com", placed_at=BEFORE),
        replace(STRANGER, customer_external_id="c-1", placed_at=BEFORE),
        replace(STRANGER, store_id="other", checkout_id=CHECKOUT.external_id),
        replace(STRANGER, store_id="other", email="ann@example.com"),
        replace(STRANGER, checkout_id="another-checkout", cart_token="another-cart"),
    ],
)
def test_an_earlier_order_by_the_customer_or_another_stores_order_does_not_follow(
    order: OrderRefs,
) -> None:
    assert not order_follows(CHECKOUT, order)


def test_a_checkout_without_cart_email_or_customer_is_followed_only_by_its_own_order() -> None:
    anonymous = replace(CHECKOUT, cart_external_id=None, customer_external_id=None, email=None)
    orders_without_refs = replace(STRANGER, customer_external_id=None, email=None)
    assert not order_follows(anonymous, orders_without_refs)
    assert order_follows(anonymous, replace(STRANGER, checkout_id=CHECKOUT.external_id))


def test_emails_compare_case_insensitively_and_blank_is_none() -> None:
    assert normalized_email("  Ann@Example.COM ") == "ann@example.com"
    assert normalized_email("   ") is None
    assert normalized_email(None) is None
