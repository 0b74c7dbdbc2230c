from collections.abc import Sequence
from typing import Any

from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.kafka import BatchHandler
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaign.contacts import events, service
from campaign.contacts.batch import CustomerEvent


def customer_events_handler(sessions: async_sessionmaker[AsyncSession]) -> BatchHandler:
    async def handle(batch: Sequence[CloudEvent[dict[str, Any]]]) -> dict[int, Exception]:
        """Keep the contact list in step with a batch of crm.customers.v1, in one transaction;
        returns the events that break their contract, by position."""
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
            async with transaction(sessions) as session:
                await service.apply_customer_changes(session=session, events=changes)
        return rejected

    return handle
