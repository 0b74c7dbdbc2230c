"""Every Kafka subscription of the analytics service."""

from crm_common.kafka import subscribe_batch
from crm_common.runtime import PostgresRuntime

from analytics.config import Settings
from analytics.facts.consumers import customer_events_handler, order_events_handler

# One transaction per batch: large enough that a commit and a handful of set-based statements
# are no longer the cost of an event, small enough that a batch replayed after a failure (or
# applied one event at a time to isolate a poison event) is cheap.
BATCH_RECORDS = 500


def topics(settings: Settings) -> tuple[str, ...]:
    return (settings.orders_topic, settings.customers_topic)


def register(runtime: PostgresRuntime, settings: Settings) -> None:
    subscribe_batch(
        runtime.broker,
        settings.orders_topic,
        group_id=f"{settings.consumer_group}.orders",
        handler=order_events_handler(runtime.sessions, topic=settings.orders_topic),
        max_records=BATCH_RECORDS,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
    subscribe_batch(
        runtime.broker,
        settings.customers_topic,
        group_id=f"{settings.consumer_group}.customers",
        handler=customer_events_handler(runtime.sessions, topic=settings.customers_topic),
        max_records=BATCH_RECORDS,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
