from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.kafka import EventHandler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaign.contacts import events, service


def customer_events_handler(sessions: async_sessionmaker[AsyncSession]) -> EventHandler:
    async def handle(event: CloudEvent[dict[str, object]]) -> None:
        """Keep the contact list in step with crm.customers.v1."""
        change = events.customer_change(event)
        if change is None:
            return
        async with transaction(sessions) as session:
            await service.apply_customer_change(session=session, event_id=event.id, change=change)

    return handle
