"""Every Kafka subscription of the support-ticket service."""

from crm_common.kafka import subscribe
from crm_common.runtime import MongoRuntime
from crm_events import topics

from support_ticket.config import Settings
from support_ticket.customers.consumers import customer_events_handler

TOPICS = (topics.CRM_CUSTOMERS, topics.CRM_TICKETS)


def register(runtime: MongoRuntime, settings: Settings) -> None:
    subscribe(
        runtime.broker,
        topics.CRM_CUSTOMERS,
        group_id=f"{settings.consumer_group_prefix}.customers",
        handler=customer_events_handler(runtime.database),
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
