"""Tickets to the crm.tickets.v1 contract: a snapshot of the ticket after each change."""

from typing import Any

from crm_common.contracts import EventContract
from crm_common.envelope import to_json_bytes
from crm_events.ticket import (
    TICKET_CREATED,
    TICKET_SOLVED,
    TICKET_UPDATED,
    TicketRequester,
    TicketSnapshot,
    TicketStatus,
)

from support_ticket.tickets.models import PendingEvent, Ticket

SOURCE = "support-ticket"


def snapshot(ticket: Ticket) -> dict[str, Any]:
    """The contract's fields of `ticket`, without subject, bodies or notes (none travel)."""
    return TicketSnapshot(
        ticket_id=ticket.ticket_id,
        number=ticket.number,
        store_id=ticket.store_id,
        channel=ticket.channel,
        status=ticket.status,
        priority=ticket.priority,
        type=ticket.type,
        tags=ticket.tags,
        customer_id=ticket.customer_id,
        requester=TicketRequester(email=ticket.requester.email, phone=ticket.requester.phone),
        assignee_id=ticket.assignee_id,
        group_id=ticket.group_id,
        order_ids=ticket.order_ids,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        first_responded_at=ticket.first_responded_at,
        solved_at=ticket.solved_at,
        reopened_count=ticket.reopened_count,
        version=ticket.version,
    ).model_dump()


def contract_for(before: Ticket | None, after: Ticket) -> EventContract[Any]:
    """Created for a new ticket, solved when a change solves it, updated otherwise."""
    if before is None:
        return TICKET_CREATED
    if after.status is TicketStatus.SOLVED and before.status is not TicketStatus.SOLVED:
        return TICKET_SOLVED
    return TICKET_UPDATED


def pending_event(before: Ticket | None, after: Ticket) -> PendingEvent:
    """The event announcing `after`, encoded now so that the relay sends these very bytes (and
    the same event id) however often it has to."""
    contract = contract_for(before, after)
    event = contract.event(contract.model.model_validate(snapshot(after)), source=SOURCE)
    return PendingEvent(event_id=event.id, version=after.version, payload=to_json_bytes(event))
