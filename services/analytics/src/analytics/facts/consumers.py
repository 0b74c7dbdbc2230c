"""Order facts: one row per order, with the customer it is attributed to (merges followed)."""

from collections.abc import Sequence
from typing import Any

from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.kafka import BatchHandler, Rejections
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics.facts import service

FACT_EVENTS = Counter(
    "crm_analytics_fact_events_total",
    "Events the order-fact consumers took, by topic and outcome",
    ["topic", "outcome"],
)


def order_events_handler(sessions: async_sessionmaker[AsyncSession], *, topic: str) -> BatchHandler:
    async def handle(events: Sequence[CloudEvent[dict[str, Any]]]) -> Rejections:
        """Keep the order facts in step with a batch of crm.orders.v1 events, in one
        transaction; returns the events that break their contract, with why."""
        async with transaction(sessions) as session:
            outcome = await service.apply_order_events(session=session, events=events)
        return _counted(topic, outcome)

    return handle


def customer_events_handler(
    sessions: async_sessionmaker[AsyncSession], *, topic: str
) -> BatchHandler:
    async def handle(events: Sequence[CloudEvent[dict[str, Any]]]) -> Rejections:
        """Apply a batch of crm.customers.v1 attributions and merges to the order facts, in one
        transaction; returns the events that break their contract, with why."""
        async with transaction(sessions) as session:
            outcome = await service.apply_customer_events(session=session, events=events)
        return _counted(topic, outcome)

    return handle


def _counted(topic: str, outcome: service.Outcome) -> Rejections:
    for name, count in outcome.counts.items():
        FACT_EVENTS.labels(topic, name).inc(count)
    return outcome.rejected
