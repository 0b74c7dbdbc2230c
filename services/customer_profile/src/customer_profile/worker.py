"""Every Kafka subscription of the customer-profile service."""

from crm_common.kafka import subscribe
from crm_common.runtime import PostgresRuntime

from customer_profile.config import Settings
from customer_profile.customers.consumers import order_events_handler


def topics(settings: Settings) -> tuple[str, ...]:
    """The topics this service consumes from or publishes to."""
    return (settings.orders_topic, settings.customers_topic)


def register(runtime: PostgresRuntime, settings: Settings) -> None:
    subscribe(
        runtime.broker,
        settings.orders_topic,
        group_id=f"{settings.consumer_group}.customers",
        handler=order_events_handler(runtime.sessions, customers_topic=settings.customers_topic),
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
