"""Every Kafka subscription of the customer-profile service."""

from datetime import timedelta

from crm_common.kafka import subscribe_batch
from crm_common.runtime import PostgresRuntime

from customer_profile.config import Settings
from customer_profile.contacts.consumers import shop_accounts_step
from customer_profile.customers.consumers import order_events_handler
from customer_profile.customers.policy import IdentityPolicy
from customer_profile.timeline.consumers import activity_handler, customer_events_handler

# One transaction per batch of order events: large enough that the commit is no longer a cost
# per event, small enough that a batch applied again after a failure is cheap.
ORDERS_BATCH = 500


def topics(settings: Settings) -> tuple[str, ...]:
    """The topics this service consumes from or publishes to."""
    return (
        settings.orders_topic,
        settings.customers_topic,
        settings.activity_topic,
        settings.messages_topic,
        settings.tickets_topic,
    )


def register(
    runtime: PostgresRuntime, settings: Settings, *, policy: IdentityPolicy | None = None
) -> None:
    policy = policy or IdentityPolicy.from_settings(settings)
    subscribe_batch(
        runtime.broker,
        settings.orders_topic,
        group_id=f"{settings.consumer_group}.customers",
        handler=order_events_handler(
            runtime.sessions, customers_topic=settings.customers_topic, policy=policy
        ),
        max_records=ORDERS_BATCH,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
    register_timeline(runtime, settings, policy=policy)


def register_timeline(
    runtime: PostgresRuntime, settings: Settings, *, policy: IdentityPolicy
) -> None:
    """Storefront activity, messages and tickets onto the customers' timelines, in batches; the
    shop customer accounts among the activity into customers."""
    activity = activity_handler(
        runtime.sessions,
        topic=settings.activity_topic,
        guard=policy.guard,
        pending_for=timedelta(days=settings.timeline_pending_days),
        before=shop_accounts_step(customers_topic=settings.customers_topic, policy=policy),
    )
    for topic, group, handler in (
        (settings.activity_topic, "timeline-activity", activity),
        (
            settings.messages_topic,
            "timeline-messages",
            customer_events_handler(runtime.sessions, topic=settings.messages_topic),
        ),
        (
            settings.tickets_topic,
            "timeline-tickets",
            customer_events_handler(runtime.sessions, topic=settings.tickets_topic),
        ),
    ):
        subscribe_batch(
            runtime.broker,
            topic,
            group_id=f"{settings.consumer_group}.{group}",
            handler=handler,
            max_attempts=settings.consumer_max_attempts,
            retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
        )
