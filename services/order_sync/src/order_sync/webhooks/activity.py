"""A verified checkout or customer-account delivery applied through the carts service, or
relayed to shop.activity.v1 in canonical form."""

from collections.abc import Awaitable, Callable

from crm_events.shop_activity import ShopCustomerUpserted
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.carts import service as carts
from order_sync.carts.service import RecordStatus
from order_sync.connectors import customers, shopify_checkouts
from order_sync.connectors._fields import Json, parse_json_object
from order_sync.shop_customers import service as shop_customers
from order_sync.shop_customers.service import RelayStatus
from order_sync.stores.schemas import Platform
from order_sync.webhooks.flows import Applied
from order_sync.webhooks.schemas import Outcome
from order_sync.webhooks.topics import Topics

Apply = Callable[..., Awaitable[Applied]]


async def apply_shopify_checkout(
    *, session: AsyncSession, store_id: str, body: bytes, topics: Topics
) -> Applied:
    """Apply a Shopify `checkouts/create` or `checkouts/update` delivery through the carts
    service; raises `PayloadError` when it does not map."""
    checkout = shopify_checkouts.checkout_from_payload(parse_json_object(body), store_id=store_id)
    recorded = await carts.record_checkout(session=session, checkout=checkout, topic=topics.carts)
    what = f"checkout {checkout.checkout_id} (ours {recorded.id})"
    if recorded.status == RecordStatus.UNCHANGED:
        return Applied(
            Outcome.UNCHANGED, detail=f"{what} is no newer than version {recorded.version}"
        )
    return Applied(
        Outcome.APPLIED, detail=f"{what} {recorded.status.value} as version {recorded.version}"
    )


async def apply_shopify_customer(
    *, session: AsyncSession, store_id: str, body: bytes, topics: Topics
) -> Applied:
    """Relay a Shopify `customers/create` or `customers/update` account."""
    return await _relay(session, customers.shopify_customer, store_id, body, topics)


async def apply_woocommerce_customer(
    *, session: AsyncSession, store_id: str, body: bytes, topics: Topics
) -> Applied:
    """Relay a WooCommerce `customer.created` or `customer.updated` account."""
    return await _relay(session, customers.woocommerce_customer, store_id, body, topics)


async def _relay(
    session: AsyncSession,
    mapping: Callable[..., ShopCustomerUpserted],
    store_id: str,
    body: bytes,
    topics: Topics,
) -> Applied:
    payload: Json = parse_json_object(body)
    customer = mapping(payload, store_id=store_id)
    relayed = await shop_customers.relay_customer(
        session=session, customer=customer, topic=topics.activity
    )
    if relayed.status == RelayStatus.UNCHANGED:
        return Applied(
            Outcome.UNCHANGED,
            detail=f"customer {relayed.ref} is no newer than the revision announced last",
        )
    return Applied(
        Outcome.APPLIED,
        detail=f"customer {relayed.ref} announced as shop.customer.upserted "
        f"(revision {relayed.version})",
    )


_APPLIERS: dict[tuple[Platform, str], Apply] = {
    **{(Platform.SHOPIFY, t): apply_shopify_checkout for t in shopify_checkouts.CHECKOUT_TOPICS},
    **{(Platform.SHOPIFY, t): apply_shopify_customer for t in customers.SHOPIFY_CUSTOMER_TOPICS},
    **{
        (Platform.WOOCOMMERCE, t): apply_woocommerce_customer
        for t in customers.WOOCOMMERCE_CUSTOMER_TOPICS
    },
}


def applier(platform: Platform, topic: str) -> Apply | None:
    """How a delivery of `topic` is applied when it is a checkout or a customer account."""
    return _APPLIERS.get((platform, topic))
