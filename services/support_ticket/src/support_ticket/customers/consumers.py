from collections.abc import Sequence
from typing import Any

from crm_common.envelope import CloudEvent
from crm_common.kafka import BatchHandler
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase

from support_ticket.customers import events, service
from support_ticket.customers.batch import CustomerEvent


def customer_events_handler(database: AsyncDatabase[dict[str, Any]]) -> BatchHandler:
    async def handle(batch: Sequence[CloudEvent[dict[str, Any]]]) -> dict[int, Exception]:
        """Keep the support desk's customers in step with a batch of crm.customers.v1; returns
        the events that break their contract, by position."""
        rejected: dict[int, Exception] = {}
        changes: list[CustomerEvent] = []
        for position, event in enumerate(batch):
            try:
                change = events.customer_change(event)
            except ValidationError as error:
                rejected[position] = error
                continue
            if change is not None:
                changes.append(CustomerEvent(event.id, change))
        if changes:
            await service.apply_customer_changes(database=database, events=changes)
        return rejected

    return handle
