"""Every Kafka subscription of the order-sync service, and every event it publishes."""

from typing import Any

from crm_common.asyncapi import Consumes, Publishes, ServiceEvents, asyncapi_document
from crm_common.kafka import subscribe_batch
from crm_common.runtime import PostgresRuntime
from crm_events.cart import CART_UPDATED, CHECKOUT_ABANDONED, CHECKOUT_STARTED
from crm_events.inventory import LOW_STOCK, STOCK_CHANGED
from crm_events.registry import CONTRACTS
from crm_events.shop import ORDER_UPSERTED
from crm_events.shop_activity import (
    SHOP_CART_UPDATED,
    SHOP_CHECKOUT_STARTED,
    SHOP_CUSTOMER_UPSERTED,
)

from order_sync.carts.consumers import shop_activity_handler
from order_sync.config import Settings
from order_sync.orders import events as order_events
from order_sync.orders.consumers import shop_orders_handler

SHOP_ORDERS_GROUP = "order-sync.shop-orders"
# One transaction per batch: large enough that a commit is no longer the cost of an event,
# small enough that a batch replayed after a failure is cheap.
SHOP_ORDERS_BATCH = 500
SHOP_ACTIVITY_GROUP = "order-sync.shop-activity"


def events(settings: Settings) -> ServiceEvents:
    """What the service consumes and publishes: `register` subscribes to it, the runtime
    creates its topics, and `/asyncapi.json` documents it."""
    return ServiceEvents(
        service=settings.service_name,
        consumes=(
            Consumes(
                settings.shop_orders_topic,
                SHOP_ORDERS_GROUP,
                contracts=(ORDER_UPSERTED,),
                summary="The shops' orders, stored and announced on crm.orders.v1",
            ),
            Consumes(
                settings.activity_topic,
                SHOP_ACTIVITY_GROUP,
                contracts=(SHOP_CART_UPDATED, SHOP_CHECKOUT_STARTED),
                summary="The shops' carts and checkouts, stored and announced on crm.carts.v1",
            ),
        ),
        publishes=(
            Publishes(
                settings.shop_orders_topic,
                (ORDER_UPSERTED,),
                summary="Orders accepted by POST /v1/orders, for the consumer above to apply",
            ),
            Publishes(
                settings.orders_topic,
                tuple(order_events.CONTRACTS.values()),
                summary="Each stored change of an order, through the outbox",
            ),
            Publishes(
                settings.carts_topic,
                (CART_UPDATED, CHECKOUT_STARTED, CHECKOUT_ABANDONED),
                summary="Carts and checkouts, and checkouts abandoned, through the outbox",
            ),
            Publishes(
                settings.inventory_topic,
                (STOCK_CHANGED, LOW_STOCK),
                summary="Stock level changes, through the outbox",
            ),
            Publishes(
                settings.activity_topic,
                (SHOP_CUSTOMER_UPSERTED,),
                summary="Shop customer accounts from the platforms' webhooks, through the outbox",
            ),
        ),
    )


def topics(settings: Settings) -> tuple[str, ...]:
    """The topics order-sync consumes or publishes to (their dead-letter topics come along)."""
    return events(settings).topics()


def asyncapi(settings: Settings | None = None) -> dict[str, Any]:
    """The service's AsyncAPI document; without `settings`, the committed `asyncapi.json`
    (the defaults, whatever the environment says)."""
    return asyncapi_document(events(settings or Settings.model_construct()), contracts=CONTRACTS)


def register(runtime: PostgresRuntime, settings: Settings) -> None:
    shop_orders, activity = events(settings).consumes
    subscribe_batch(
        runtime.broker,
        shop_orders.topic,
        group_id=shop_orders.group_id,
        handler=shop_orders_handler(runtime.sessions, topic=settings.orders_topic),
        max_records=SHOP_ORDERS_BATCH,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
    subscribe_batch(
        runtime.broker,
        activity.topic,
        group_id=activity.group_id,
        handler=shop_activity_handler(runtime.sessions, topic=settings.carts_topic),
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
