"""Every Kafka subscription of the campaign service."""

from crm_common.kafka import subscribe_batch
from crm_common.runtime import PostgresRuntime

from campaign.config import Settings
from campaign.contacts.consumers import customer_events_handler

# One transaction per batch: large enough that a commit is no longer the cost of an event,
# small enough that a batch replayed after a failure is cheap.
CUSTOMERS_BATCH = 500


def topics(settings: Settings) -> tuple[str, ...]:
    """The topics the service consumes or publishes to (their dead-letter topics come along)."""
    return (settings.customers_topic, settings.messages_topic)


def register(runtime: PostgresRuntime, settings: Settings) -> None:
    subscribe_batch(
        runtime.broker,
        settings.customers_topic,
        group_id=f"{settings.consumer_group_prefix}.contacts",
        handler=customer_events_handler(runtime.sessions),
        max_records=CUSTOMERS_BATCH,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
