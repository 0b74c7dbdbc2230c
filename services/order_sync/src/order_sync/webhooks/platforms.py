"""What differs between the platforms' webhooks: header names, keys, de-duplication, topics."""

import re
from collections.abc import Callable
from dataclasses import dataclass

from order_sync.connectors import (
    customers,
    shopify,
    shopify_checkouts,
    shopify_records,
    woocommerce,
)
from order_sync.stores.schemas import Platform
from order_sync.webhooks import signatures

# Only creations and changes of an account are relayed (connectors/customers.py).
_CUSTOMERS = (
    "only created and updated customer accounts are relayed: a deleted shop account is no "
    "erasure request (customer-profile keeps the customer; erasure goes through its GDPR API), "
    "and other account topics carry nothing the shop.customer.upserted contract holds"
)

# Topics received but not handled yet, with the reason recorded on the delivery.
_SHOPIFY_NOT_YET = (
    (
        "checkouts/",
        "only checkouts/create and checkouts/update are applied: a deleted checkout says "
        "nothing about whether an order followed it",
    ),
    ("customers/", _CUSTOMERS),
)
_WOOCOMMERCE_NOT_YET = (("customer.", _CUSTOMERS),)

_WOOCOMMERCE_PING = re.compile(rb"webhook_id=\d+")


@dataclass(frozen=True, slots=True)
class PlatformSpec:
    platform: Platform
    topic_header: str
    signature_header: str
    delivery_header: str
    kept_headers: tuple[str, ...]
    """Lower-case names of the headers stored with each delivery."""
    key: Callable[[str], bytes]
    """The HMAC key from the store's secret."""
    handled_topics: frozenset[str]
    not_yet: tuple[tuple[str, str], ...]
    dedup_by_body: bool
    """Whether the delivery id alone may name two different deliveries."""

    def ignored_reason(self, topic: str) -> str | None:
        """Why a delivery of `topic` is not applied, or None when it is handled."""
        if topic in self.handled_topics:
            return None
        for prefix, reason in self.not_yet:
            if topic.startswith(prefix):
                return reason
        return f"order-sync does not handle the topic {topic}"

    def dedup_key(self, delivery_id: str, body_sha256: str) -> str:
        return f"{delivery_id}:{body_sha256}" if self.dedup_by_body else delivery_id

    def is_ping(self, headers: dict[str, str], body: bytes) -> bool:
        """WooCommerce's unsigned test request when a webhook is created: `webhook_id=N`."""
        return (
            self.platform == Platform.WOOCOMMERCE
            and not headers.get(self.topic_header)
            and not headers.get(self.signature_header)
            and _WOOCOMMERCE_PING.fullmatch(body.strip()) is not None
        )


SHOPIFY = PlatformSpec(
    platform=Platform.SHOPIFY,
    topic_header="x-shopify-topic",
    signature_header="x-shopify-hmac-sha256",
    delivery_header="x-shopify-webhook-id",
    kept_headers=(
        "x-shopify-topic",
        "x-shopify-hmac-sha256",
        "x-shopify-webhook-id",
        "x-shopify-shop-domain",
        "x-shopify-api-version",
        "x-shopify-triggered-at",
        "x-shopify-event-id",
        "content-type",
        "user-agent",
    ),
    key=signatures.shopify_key,
    handled_topics=shopify.ORDER_TOPICS
    | shopify_records.PART_TOPICS
    | shopify_checkouts.CHECKOUT_TOPICS
    | customers.SHOPIFY_CUSTOMER_TOPICS,
    not_yet=_SHOPIFY_NOT_YET,
    dedup_by_body=False,
)

WOOCOMMERCE = PlatformSpec(
    platform=Platform.WOOCOMMERCE,
    topic_header="x-wc-webhook-topic",
    signature_header="x-wc-webhook-signature",
    delivery_header="x-wc-webhook-delivery-id",
    kept_headers=(
        "x-wc-webhook-topic",
        "x-wc-webhook-signature",
        "x-wc-webhook-delivery-id",
        "x-wc-webhook-id",
        "x-wc-webhook-source",
        "x-wc-webhook-resource",
        "x-wc-webhook-event",
        "content-type",
        "user-agent",
    ),
    key=signatures.woocommerce_key,
    handled_topics=woocommerce.ORDER_TOPICS
    | {woocommerce.DELETED_TOPIC}
    | customers.WOOCOMMERCE_CUSTOMER_TOPICS,
    not_yet=_WOOCOMMERCE_NOT_YET,
    # WooCommerce derives the delivery id from the webhook id and the current second, so two
    # different deliveries of one webhook within a second share it; a true repeat also has the
    # same bytes.
    dedup_by_body=True,
)

PLATFORMS = {spec.platform: spec for spec in (SHOPIFY, WOOCOMMERCE)}
