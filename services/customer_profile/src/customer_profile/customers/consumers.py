from collections.abc import Sequence
from typing import Any

from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.kafka import BatchHandler, Rejections
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_profile.customers import ingest
from customer_profile.customers.policy import DEFAULT_POLICY, IdentityPolicy

ORDER_EVENTS = Counter(
    "crm_customer_order_events_total",
    "crm.orders.v1 events the customer consumer took, by outcome",
    ["outcome"],
)


def order_events_handler(
    sessions: async_sessionmaker[AsyncSession],
    *,
    customers_topic: str,
    policy: IdentityPolicy = DEFAULT_POLICY,
) -> BatchHandler:
    async def handle(events: Sequence[CloudEvent[dict[str, Any]]]) -> Rejections:
        """Attribute a batch of crm.orders.v1 orders to their customers in one transaction, as
        if one at a time; returns the events that cannot be applied, with why."""
        async with transaction(sessions) as session:
            outcome = await ingest.apply_order_events(
                session=session, events=events, customers_topic=customers_topic, policy=policy
            )
        for name, count in outcome.outcomes.items():
            ORDER_EVENTS.labels(name).inc(count)
        return outcome.rejected

    return handle
