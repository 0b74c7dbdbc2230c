from typing import Any

from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.kafka import EventHandler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics.facts import service


def order_events_handler(sessions: async_sessionmaker[AsyncSession]) -> EventHandler:
    async def handle(event: CloudEvent[dict[str, Any]]) -> None:
        """Keep the order facts in step with crm.orders.v1."""
        async with transaction(sessions) as session:
            await service.apply_order_event(session=session, event=event)

    return handle


def customer_events_handler(sessions: async_sessionmaker[AsyncSession]) -> EventHandler:
    async def handle(event: CloudEvent[dict[str, Any]]) -> None:
        """Apply crm.customers.v1 attributions and merges to the order facts."""
        async with transaction(sessions) as session:
            await service.apply_customer_event(session=session, event=event)

    return handle
