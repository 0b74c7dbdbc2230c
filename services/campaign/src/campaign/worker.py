"""Every Kafka subscription of the campaign service, what it publishes, and its periodic work."""

from typing import Any

from crm_common.asyncapi import Consumes, Publishes, ServiceEvents, asyncapi_document
from crm_common.kafka import subscribe_batch
from crm_common.periodic import Periodic
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
from campaign.segments import consumers as segments
from campaign.segments.events import (
    CART_CONTRACTS,
    CUSTOMER_CONTRACTS,
    MEMBERSHIP_CONTRACTS,
    ORDER_CONTRACTS,
    cart_fact,
    order_fact,
)

# One transaction per batch: large enough that a commit is no longer the cost of an event,
# small enough that a batch replayed after a failure is cheap.
CUSTOMERS_BATCH = 500
BEHAVIOUR_BATCH = 500


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
            Consumes(
                settings.customers_topic,
                f"{settings.consumer_group_prefix}.segments.customers",
                contracts=CUSTOMER_CONTRACTS,
                summary="Profiles, consent, attributions, merges and erasures, into segments",
            ),
            Consumes(
                settings.orders_topic,
                f"{settings.consumer_group_prefix}.segments.orders",
                contracts=ORDER_CONTRACTS,
                summary="Orders placed, paid, refunded and cancelled, as segments' behaviour",
            ),
            Consumes(
                settings.carts_topic,
                f"{settings.consumer_group_prefix}.segments.carts",
                contracts=CART_CONTRACTS,
                summary="Carts and checkouts, as segments' behaviour",
            ),
        ),
        publishes=(
            Publishes(
                settings.segments_topic,
                MEMBERSHIP_CONTRACTS,
                summary="Customers entering and leaving segments",
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
    contacts, customers, orders, carts = events(settings).consumes
    topic = settings.segments_topic
    handlers = (
        (contacts, customer_events_handler(runtime.sessions), CUSTOMERS_BATCH),
        (
            customers,
            segments.customer_events_handler(runtime.sessions, topic=topic),
            CUSTOMERS_BATCH,
        ),
        (
            orders,
            segments.behaviour_handler(runtime.sessions, order_fact, topic=topic),
            BEHAVIOUR_BATCH,
        ),
        (
            carts,
            segments.behaviour_handler(runtime.sessions, cart_fact, topic=topic),
            BEHAVIOUR_BATCH,
        ),
    )
    for consumer, handler, batch in handlers:
        subscribe_batch(
            runtime.broker,
            consumer.topic,
            group_id=consumer.group_id,
            handler=handler,
            max_records=batch,
            max_attempts=settings.consumer_max_attempts,
            retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
        )


def scheduler(runtime: PostgresRuntime, settings: Settings) -> Periodic:
    """Time passing and backfills: memberships due to change by time alone, then new, edited
    and deleted segments (safe on every replica at once: see `segments.service`)."""
    return Periodic(
        "campaign.segments.schedule",
        segments.scheduler(runtime.sessions, topic=settings.segments_topic),
        interval=settings.segment_scan_seconds,
    )
