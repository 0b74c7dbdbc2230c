"""Tickets to the crm.tickets.v1 contract: a snapshot of the ticket after each change, as the
one event type that tells that change best."""

from dataclasses import dataclass
from typing import Any

from crm_common.contracts import EventContract
from crm_common.envelope import to_json_bytes
from crm_events.ticket import (
    TICKET_ASSIGNED,
    TICKET_CREATED,
    TICKET_REPLIED,
    TICKET_SLA_BREACHED,
    TICKET_SLA_WARNING,
    TICKET_SOLVED,
    TICKET_STATUS_CHANGED,
    TICKET_UPDATED,
    MessageAuthor,
    TicketRequester,
    TicketSnapshot,
    TicketStatus,
)

from support_ticket.tickets.deadlines import Alert, AlertKind
from support_ticket.tickets.models import PendingEvent, Ticket

SOURCE = "support-ticket"


@dataclass(frozen=True)
class Reply:
    """A public message the change adds: an agent's reply or the customer's words."""

    message_id: str
    author: MessageAuthor


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
        sla=ticket.sla,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        first_responded_at=ticket.first_responded_at,
        first_response_seconds=ticket.first_response_seconds,
        solved_at=ticket.solved_at,
        resolution_seconds=ticket.resolution_seconds,
        reopened_count=ticket.reopened_count,
        version=ticket.version,
    ).model_dump()


def announcement(
    before: Ticket | None, after: Ticket, *, reply: Reply | None = None
) -> tuple[EventContract[Any], dict[str, Any]]:
    """The event type of a change and what it carries beside the snapshot. One change is one
    event, the first that applies of: created, solved, replied (a public message), status
    changed, assigned (assignee or group), updated (anything else)."""
    if before is None:
        return TICKET_CREATED, {}
    if after.status is TicketStatus.SOLVED and before.status is not TicketStatus.SOLVED:
        return TICKET_SOLVED, {}
    if reply is not None:
        return TICKET_REPLIED, {"message_id": reply.message_id, "author": reply.author}
    if after.status is not before.status:
        return TICKET_STATUS_CHANGED, {"previous_status": before.status}
    if (after.assignee_id, after.group_id) != (before.assignee_id, before.group_id):
        return TICKET_ASSIGNED, {
            "previous_assignee_id": before.assignee_id,
            "previous_group_id": before.group_id,
        }
    return TICKET_UPDATED, {}


def pending_event(
    before: Ticket | None, after: Ticket, *, reply: Reply | None = None
) -> PendingEvent:
    """The event announcing `after`, encoded now so that the relay sends these very bytes (and
    the same event id) however often it has to."""
    contract, extra = announcement(before, after, reply=reply)
    return _encoded(contract, after, extra)


def alert_event(ticket: Ticket, alert: Alert) -> PendingEvent:
    """The SLA warning or breach `alert` of `ticket` (at its version announcing it)."""
    contract = TICKET_SLA_BREACHED if alert.kind is AlertKind.BREACHED else TICKET_SLA_WARNING
    return _encoded(contract, ticket, {"target": alert.target, "due_at": alert.due_at})


def _encoded(contract: EventContract[Any], ticket: Ticket, extra: dict[str, Any]) -> PendingEvent:
    data = contract.model.model_validate({**snapshot(ticket), **extra})
    event = contract.event(data, source=SOURCE)
    return PendingEvent(event_id=event.id, version=ticket.version, payload=to_json_bytes(event))
