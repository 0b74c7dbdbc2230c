"""Every Kafka subscription of the order-sync service."""

from crm_common.kafka import subscribe_batch
from crm_common.runtime import PostgresRuntime

from order_sync.carts.consumers import shop_activity_handler
from order_sync.config import Settings
from order_sync.orders.consumers import shop_orders_handler

SHOP_ORDERS_GROUP = "order-sync.shop-orders"
# One transaction per batch: large enough that a commit is no longer the cost of an event,
# small enough that a batch replayed after a failure is cheap.
SHOP_ORDERS_BATCH = 500
SHOP_ACTIVITY_GROUP = "order-sync.shop-activity"


def topics(settings: Settings) -> tuple[str, ...]:
    """The topics order-sync consumes or publishes to (their dead-letter topics come along)."""
    return (
        settings.shop_orders_topic,
        settings.orders_topic,
        settings.activity_topic,
        settings.carts_topic,
        settings.inventory_topic,
    )


def register(runtime: PostgresRuntime, settings: Settings) -> None:
    subscribe_batch(
        runtime.broker,
        settings.shop_orders_topic,
        group_id=SHOP_ORDERS_GROUP,
        handler=shop_orders_handler(runtime.sessions, topic=settings.orders_topic),
        max_records=SHOP_ORDERS_BATCH,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
    subscribe_batch(
        runtime.broker,
        settings.activity_topic,
        group_id=SHOP_ACTIVITY_GROUP,
        handler=shop_activity_handler(runtime.sessions, topic=settings.carts_topic),
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
