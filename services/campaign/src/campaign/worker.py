"""Every Kafka subscription of the campaign service."""

from crm_common.kafka import subscribe
from crm_common.runtime import PostgresRuntime
from crm_events import topics

from campaign.config import Settings
from campaign.contacts.consumers import customer_events_handler

TOPICS = (topics.CRM_CUSTOMERS, topics.CRM_MESSAGES)


def register(runtime: PostgresRuntime, settings: Settings) -> None:
    subscribe(
        runtime.broker,
        topics.CRM_CUSTOMERS,
        group_id=f"{settings.consumer_group_prefix}.contacts",
        handler=customer_events_handler(runtime.sessions),
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
