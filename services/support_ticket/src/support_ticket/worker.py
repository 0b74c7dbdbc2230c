"""Every Kafka subscription of the support-ticket service, and what it publishes."""

from typing import Any

from crm_common.asyncapi import Consumes, Publishes, ServiceEvents, asyncapi_document
from crm_common.kafka import subscribe_batch
from crm_common.runtime import MongoRuntime
from crm_events.customer import (
    CUSTOMER_CREATED,
    CUSTOMER_ERASED,
    CUSTOMER_MERGED,
    CUSTOMER_TICKET_ATTRIBUTED,
    CUSTOMER_UNMERGED,
    CUSTOMER_UPDATED,
)
from crm_events.registry import CONTRACTS
from crm_events.ticket import (
    TICKET_ASSIGNED,
    TICKET_CREATED,
    TICKET_REPLIED,
    TICKET_SLA_BREACHED,
    TICKET_SLA_WARNING,
    TICKET_SOLVED,
    TICKET_STATUS_CHANGED,
    TICKET_UPDATED,
)

from support_ticket.config import Settings
from support_ticket.flows import customers_and_tickets_handler

# Writes of a batch go out in one unordered bulk write: the larger the batch, the fewer round
# trips; a batch replayed after a failure repeats writes that are safe to repeat.
CUSTOMERS_BATCH = 500


def events(settings: Settings) -> ServiceEvents:
    """What the service consumes and publishes: `register` subscribes to it, the runtime
    creates its topics, and `/asyncapi.json` documents it."""
    return ServiceEvents(
        service=settings.service_name,
        consumes=(
            Consumes(
                settings.customers_topic,
                f"{settings.consumer_group_prefix}.customers",
                # The types `customers.events.customer_change` and
                # `tickets.consumers.followup` keep something of.
                contracts=(
                    CUSTOMER_CREATED,
                    CUSTOMER_UPDATED,
                    CUSTOMER_MERGED,
                    CUSTOMER_UNMERGED,
                    CUSTOMER_ERASED,
                    CUSTOMER_TICKET_ATTRIBUTED,
                ),
                summary="Customers, merges and erasures into the support desk's customers, "
                "then attributions, merges, undos and erasures onto the tickets",
            ),
        ),
        publishes=(
            Publishes(
                settings.tickets_topic,
                (
                    TICKET_CREATED,
                    TICKET_STATUS_CHANGED,
                    TICKET_ASSIGNED,
                    TICKET_REPLIED,
                    TICKET_SOLVED,
                    TICKET_UPDATED,
                    TICKET_SLA_WARNING,
                    TICKET_SLA_BREACHED,
                ),
                summary="Each ticket after every change, as the one event that tells the "
                "change best, and its SLA warnings and breaches; relayed from the ticket "
                "document",
                # The ticket's own relay parks nothing: ticket events stay far below the limit.
                parked=False,
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


def register(runtime: MongoRuntime, settings: Settings) -> None:
    (customers,) = events(settings).consumes
    subscribe_batch(
        runtime.broker,
        customers.topic,
        group_id=customers.group_id,
        handler=customers_and_tickets_handler(runtime.database),
        max_records=CUSTOMERS_BATCH,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
