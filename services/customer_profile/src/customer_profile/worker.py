"""Every Kafka subscription of the customer-profile service, and every event it publishes."""

from datetime import timedelta
from typing import Any

from crm_common.asyncapi import Consumes, Publishes, ServiceEvents, asyncapi_document
from crm_common.kafka import subscribe_batch
from crm_common.runtime import PostgresRuntime
from crm_events.customer import (
    CUSTOMER_CONSENT_CHANGED,
    CUSTOMER_CREATED,
    CUSTOMER_ERASED,
    CUSTOMER_IDENTITY_LINKED,
    CUSTOMER_MERGED,
    CUSTOMER_ORDER_ATTRIBUTED,
    CUSTOMER_UNMERGED,
    CUSTOMER_UPDATED,
)
from crm_events.registry import CONTRACTS

from customer_profile.config import Settings
from customer_profile.contacts.consumers import shop_accounts_step
from customer_profile.customers.consumers import order_events_handler
from customer_profile.customers.policy import IdentityPolicy
from customer_profile.timeline.consumers import activity_handler, customer_events_handler

# One transaction per batch of order events: large enough that the commit is no longer a cost
# per event, small enough that a batch applied again after a failure is cheap.
ORDERS_BATCH = 500


def events(settings: Settings) -> ServiceEvents:
    """What the service consumes and publishes: `register` subscribes to it, the runtime
    creates its topics, and `/asyncapi.json` documents it."""
    group = settings.consumer_group
    return ServiceEvents(
        service=settings.service_name,
        consumes=(
            Consumes(
                settings.orders_topic,
                f"{group}.customers",
                summary="Orders, attributed to their customers",
            ),
            Consumes(
                settings.activity_topic,
                f"{group}.timeline-activity",
                summary="Storefront activity onto the timelines; shop accounts into customers",
            ),
            Consumes(
                settings.messages_topic,
                f"{group}.timeline-messages",
                summary="Messages onto the customers' timelines",
            ),
            Consumes(
                settings.tickets_topic,
                f"{group}.timeline-tickets",
                summary="Tickets onto the customers' timelines",
            ),
        ),
        publishes=(
            Publishes(
                settings.customers_topic,
                (
                    CUSTOMER_CREATED,
                    CUSTOMER_UPDATED,
                    CUSTOMER_IDENTITY_LINKED,
                    CUSTOMER_ORDER_ATTRIBUTED,
                    CUSTOMER_MERGED,
                    CUSTOMER_UNMERGED,
                    CUSTOMER_ERASED,
                    CUSTOMER_CONSENT_CHANGED,
                ),
                summary="Customers, their identities, orders, merges, consents and erasure, "
                "through the outbox",
            ),
        ),
    )


def topics(settings: Settings) -> tuple[str, ...]:
    """The topics this service consumes from or publishes to."""
    return events(settings).topics()


def asyncapi(settings: Settings | None = None) -> dict[str, Any]:
    """The service's AsyncAPI document; without `settings`, the committed `asyncapi.json`
    (the defaults, whatever the environment says)."""
    return asyncapi_document(events(settings or Settings.model_construct()), contracts=CONTRACTS)


def register(
    runtime: PostgresRuntime, settings: Settings, *, policy: IdentityPolicy | None = None
) -> None:
    """Orders into customers; storefront activity, messages and tickets onto the customers'
    timelines (the shop customer accounts among the activity into customers), in batches."""
    policy = policy or IdentityPolicy.from_settings(settings)
    orders, activity, messages, tickets = events(settings).consumes
    subscribe_batch(
        runtime.broker,
        orders.topic,
        group_id=orders.group_id,
        handler=order_events_handler(
            runtime.sessions, customers_topic=settings.customers_topic, policy=policy
        ),
        max_records=ORDERS_BATCH,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
    timeline = activity_handler(
        runtime.sessions,
        topic=activity.topic,
        guard=policy.guard,
        pending_for=timedelta(days=settings.timeline_pending_days),
        before=shop_accounts_step(customers_topic=settings.customers_topic, policy=policy),
    )
    for consumer, handler in (
        (activity, timeline),
        (messages, customer_events_handler(runtime.sessions, topic=messages.topic)),
        (tickets, customer_events_handler(runtime.sessions, topic=tickets.topic)),
    ):
        subscribe_batch(
            runtime.broker,
            consumer.topic,
            group_id=consumer.group_id,
            handler=handler,
            max_attempts=settings.consumer_max_attempts,
            retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
        )
