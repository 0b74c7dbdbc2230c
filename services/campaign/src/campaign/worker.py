"""Every Kafka subscription of the campaign service, and what it publishes (nothing yet)."""

from typing import Any

from crm_common.asyncapi import Consumes, ServiceEvents, asyncapi_document
from crm_common.kafka import subscribe_batch
from crm_common.runtime import PostgresRuntime
from crm_events.customer import (
    CUSTOMER_CREATED,
    CUSTOMER_ERASED,
    CUSTOMER_MERGED,
    CUSTOMER_UNMERGED,
    CUSTOMER_UPDATED,
)
from crm_events.registry import CONTRACTS

from campaign.config import Settings
from campaign.contacts.consumers import customer_events_handler

# One transaction per batch: large enough that a commit is no longer the cost of an event,
# small enough that a batch replayed after a failure is cheap.
CUSTOMERS_BATCH = 500


def events(settings: Settings) -> ServiceEvents:
    """What the service consumes and publishes: `register` subscribes to it, the runtime
    creates its topics, and `/asyncapi.json` documents it."""
    return ServiceEvents(
        service=settings.service_name,
        consumes=(
            Consumes(
                settings.customers_topic,
                f"{settings.consumer_group_prefix}.contacts",
                # The types `contacts.events.customer_change` keeps something of.
                contracts=(
                    CUSTOMER_CREATED,
                    CUSTOMER_UPDATED,
                    CUSTOMER_MERGED,
                    CUSTOMER_UNMERGED,
                    CUSTOMER_ERASED,
                ),
                summary="Customers, merges and erasures, into the contact list",
            ),
        ),
    )


def topics(settings: Settings) -> tuple[str, ...]:
    """The topics the service consumes or publishes to (their dead-letter topics come along)."""
    return events(settings).topics()


def asyncapi(settings: Settings | None = None) -> dict[str, Any]:
    """The service's AsyncAPI document; without `settings`, the committed `asyncapi.json`
    (the defaults, whatever the environment says)."""
    return asyncapi_document(events(settings or Settings.model_construct()), contracts=CONTRACTS)


def register(runtime: PostgresRuntime, settings: Settings) -> None:
    (contacts,) = events(settings).consumes
    subscribe_batch(
        runtime.broker,
        contacts.topic,
        group_id=contacts.group_id,
        handler=customer_events_handler(runtime.sessions),
        max_records=CUSTOMERS_BATCH,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
