"""Every Kafka subscription of the order-sync service."""

from crm_common.kafka import subscribe
from crm_common.runtime import PostgresRuntime

from order_sync.config import Settings
from order_sync.orders.consumers import shop_orders_handler

SHOP_ORDERS_GROUP = "order-sync.shop-orders"


def topics(settings: Settings) -> tuple[str, ...]:
    """The topics order-sync consumes or publishes to (their dead-letter topics come along)."""
    return (settings.shop_orders_topic, settings.orders_topic)


def register(runtime: PostgresRuntime, settings: Settings) -> None:
    subscribe(
        runtime.broker,
        settings.shop_orders_topic,
        group_id=SHOP_ORDERS_GROUP,
        handler=shop_orders_handler(runtime.sessions, topic=settings.orders_topic),
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
