"""Every Kafka subscription of the analytics service."""

from crm_common.kafka import subscribe
from crm_common.runtime import PostgresRuntime

from analytics.config import Settings
from analytics.facts.consumers import customer_events_handler, order_events_handler


def topics(settings: Settings) -> tuple[str, ...]:
    return (settings.orders_topic, settings.customers_topic)


def register(runtime: PostgresRuntime, settings: Settings) -> None:
    subscribe(
        runtime.broker,
        settings.orders_topic,
        group_id=f"{settings.consumer_group}.orders",
        handler=order_events_handler(runtime.sessions),
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
    subscribe(
        runtime.broker,
        settings.customers_topic,
        group_id=f"{settings.consumer_group}.customers",
        handler=customer_events_handler(runtime.sessions),
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
