from collections.abc import Sequence
from typing import Any

from crm_common.envelope import CloudEvent
from crm_common.kafka import BatchHandler
from crm_events.customer import (
    CUSTOMER_ERASED,
    CUSTOMER_MERGED,
    CUSTOMER_TICKET_ATTRIBUTED,
    CUSTOMER_UNMERGED,
    CustomerErased,
    CustomerMerged,
    CustomerTicketAttributed,
    CustomerUnmerged,
)
from pydantic import ValidationError

from support_ticket.tickets import participants
from support_ticket.tickets.participants import CustomerFollowup
from support_ticket.tickets.repository import Database


def followup(event: CloudEvent[dict[str, Any]]) -> CustomerFollowup | None:
    """What `event` asks of the tickets, or None; raises ValidationError on a broken contract."""
    match event.type:
        case CUSTOMER_TICKET_ATTRIBUTED.type:
            return CustomerTicketAttributed.model_validate(event.data)
        case CUSTOMER_MERGED.type:
            return CustomerMerged.model_validate(event.data)
        case CUSTOMER_UNMERGED.type:
            return CustomerUnmerged.model_validate(event.data)
        case CUSTOMER_ERASED.type:
            return CustomerErased.model_validate(event.data)
        case _:
            return None


def customer_followups_handler(database: Database) -> BatchHandler:
    async def handle(batch: Sequence[CloudEvent[dict[str, Any]]]) -> dict[int, Exception]:
        """Keep tickets with the customers customer-profile names; returns the events that
        break their contract, by position."""
        rejected: dict[int, Exception] = {}
        for position, event in enumerate(batch):
            try:
                change = followup(event)
            except ValidationError as error:
                rejected[position] = error
                continue
            if change is not None:
                await participants.apply(database=database, event_id=event.id, change=change)
        return rejected

    return handle
