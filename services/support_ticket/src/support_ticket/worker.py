"""Every Kafka subscription of the support-ticket service."""

from crm_common.kafka import subscribe_batch
from crm_common.runtime import MongoRuntime

from support_ticket.config import Settings
from support_ticket.customers.consumers import customer_events_handler

# Writes of a batch go out in one unordered bulk write: the larger the batch, the fewer round
# trips; a batch replayed after a failure repeats writes that are safe to repeat.
CUSTOMERS_BATCH = 500


def topics(settings: Settings) -> tuple[str, ...]:
    """The topics the service consumes or publishes to (their dead-letter topics come along)."""
    return (settings.customers_topic, settings.tickets_topic)


def register(runtime: MongoRuntime, settings: Settings) -> None:
    subscribe_batch(
        runtime.broker,
        settings.customers_topic,
        group_id=f"{settings.consumer_group_prefix}.customers",
        handler=customer_events_handler(runtime.database),
        max_records=CUSTOMERS_BATCH,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
