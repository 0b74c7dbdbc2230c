"""What each platform's webhooks are decided on before any store is touched."""

import pytest
from order_sync.webhooks.platforms import SHOPIFY, WOOCOMMERCE, PlatformSpec


@pytest.mark.parametrize(
    "topic",
    [
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "checkouts/create",
        "checkouts/update",
        "customers/create",
        "customers/update",
        "refunds/create",
        "order_transactions/create",
        "fulfillments/create",
        "fulfillments/update",
    ],
)
def test_shopify_order_checkout_and_customer_topics_are_handled(topic: str) -> None:
    assert SHOPIFY.ignored_reason(topic) is None


@pytest.mark.parametrize(
    ("spec", "topic", "reason"),
    [
        (SHOPIFY, "checkouts/delete", "says nothing about whether an order followed"),
        (SHOPIFY, "customers/delete", "no erasure request"),
        (SHOPIFY, "customers/disable", "only created and updated customer accounts"),
        (SHOPIFY, "fulfillment_events/create", "does not handle the topic"),
        (SHOPIFY, "products/update", "does not handle the topic products/update"),
        (WOOCOMMERCE, "customer.deleted", "no erasure request"),
        (WOOCOMMERCE, "product.updated", "does not handle the topic product.updated"),
        (WOOCOMMERCE, "action.woocommerce_new_order", "does not handle"),
    ],
)
def test_topics_not_handled_are_ignored_with_their_reason(
    spec: PlatformSpec, topic: str, reason: str
) -> None:
    ignored = spec.ignored_reason(topic)

    assert ignored is not None
    assert reason in ignored


@pytest.mark.parametrize(
    "topic",
    [
        "order.created",
        "order.updated",
        "order.deleted",
        "order.restored",
        "customer.created",
        "customer.updated",
    ],
)
def test_woocommerce_order_and_customer_topics_are_handled(topic: str) -> None:
    assert WOOCOMMERCE.ignored_reason(topic) is None


@pytest.mark.parametrize(
    ("headers", "body", "ping"),
    [
        ({}, b"webhook_id=12", True),
        ({"content-type": "application/x-www-form-urlencoded"}, b"webhook_id=7\n", True),
        ({}, b"webhook_id=", False),
        ({}, b"webhook_id=12&x=1", False),
        ({"x-wc-webhook-topic": "order.created"}, b"webhook_id=12", False),
        ({"x-wc-webhook-signature": "abc="}, b"webhook_id=12", False),
    ],
)
def test_the_woocommerce_ping(headers: dict[str, str], body: bytes, ping: bool) -> None:
    assert WOOCOMMERCE.is_ping(headers, body) is ping
    assert SHOPIFY.is_ping(headers, body) is False


def test_a_woocommerce_delivery_id_names_a_delivery_only_with_its_body() -> None:
    # WooCommerce's delivery id is a hash of the webhook id and the current second.
    assert WOOCOMMERCE.dedup_key("d1", "aa") != WOOCOMMERCE.dedup_key("d1", "bb")
    assert SHOPIFY.dedup_key("d1", "aa") == SHOPIFY.dedup_key("d1", "bb") == "d1"
