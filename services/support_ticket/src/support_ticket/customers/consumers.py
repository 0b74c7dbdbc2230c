from typing import Any

from crm_common.envelope import CloudEvent
from crm_common.kafka import EventHandler
from pymongo.asynchronous.database import AsyncDatabase

from support_ticket.customers import events, service


def customer_events_handler(database: AsyncDatabase[dict[str, Any]]) -> EventHandler:
    async def handle(event: CloudEvent[dict[str, object]]) -> None:
        """Keep the support desk's customers in step with crm.customers.v1."""
        change = events.customer_change(event)
        if change is None:
            return
        await service.apply_customer_change(database=database, event_id=event.id, change=change)

    return handle
