"""Every Kafka subscription of the analytics service, and what it publishes."""

from typing import Any

from crm_common.asyncapi import Consumes, Publishes, ServiceEvents, asyncapi_document
from crm_common.kafka import subscribe_batch
from crm_common.runtime import PostgresRuntime
from crm_events.insight import CUSTOMER_PREDICTED
from crm_events.registry import CONTRACTS

from analytics.config import Settings
from analytics.facts.consumers import customer_events_handler, order_events_handler
from analytics.facts.events import CUSTOMER_EVENTS_APPLIED

# One transaction per batch: large enough that a commit and a handful of set-based statements
# are no longer the cost of an event, small enough that a batch replayed after a failure (or
# applied one event at a time to isolate a poison event) is cheap.
BATCH_RECORDS = 500


def events(settings: Settings) -> ServiceEvents:
    """What the service consumes and publishes: `register` subscribes to it, the runtime
    creates its topics, and `/asyncapi.json` documents it."""
    return ServiceEvents(
        service=settings.service_name,
        consumes=(
            Consumes(
                settings.orders_topic,
                f"{settings.consumer_group}.orders",
                summary="Order lifecycle events, into the order facts",
            ),
            Consumes(
                settings.customers_topic,
                f"{settings.consumer_group}.customers",
                contracts=tuple(CONTRACTS.get(t) for t in sorted(CUSTOMER_EVENTS_APPLIED)),
                summary="Order attributions and merges, onto the order facts",
            ),
        ),
        publishes=(
            Publishes(
                settings.insights_topic,
                (CUSTOMER_PREDICTED,),
                summary="Each customer's lifetime-value predictions, after every refit of a store",
            ),
        ),
    )


def topics(settings: Settings) -> tuple[str, ...]:
    return events(settings).topics()


def asyncapi(settings: Settings | None = None) -> dict[str, Any]:
    """The service's AsyncAPI document; without `settings`, the committed `asyncapi.json`
    (the defaults, whatever the environment says)."""
    return asyncapi_document(events(settings or Settings.model_construct()), contracts=CONTRACTS)


def register(runtime: PostgresRuntime, settings: Settings) -> None:
    orders, customers = events(settings).consumes
    for consumer, handler in (
        (orders, order_events_handler(runtime.sessions, topic=orders.topic)),
        (customers, customer_events_handler(runtime.sessions, topic=customers.topic)),
    ):
        subscribe_batch(
            runtime.broker,
            consumer.topic,
            group_id=consumer.group_id,
            handler=handler,
            max_records=BATCH_RECORDS,
            max_attempts=settings.consumer_max_attempts,
            retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
        )
