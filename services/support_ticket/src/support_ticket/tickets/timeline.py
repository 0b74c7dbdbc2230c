"""What a ticket's SLA clocks depend on, read from the ticket and its history."""

from crm_events.ticket import TicketStatus

from support_ticket.sla.clock import Pause, Timeline
from support_ticket.tickets.models import Ticket

PAUSING = frozenset({TicketStatus.PENDING, TicketStatus.ON_HOLD})
"""Waiting on the customer or a third party: every clock stops."""
_STOPPED = frozenset({TicketStatus.SOLVED, TicketStatus.CLOSED})


def timeline_of(ticket: Ticket) -> Timeline:
    """The ticket's timeline: pauses from the status changes in its history, its first agent
    reply, the customer's unanswered message, and when it was solved (unless reopened since)."""
    pauses: list[Pause] = []
    paused_since = None  # a ticket opens as new or open
    for entry in sorted(ticket.history, key=lambda entry: entry.at):
        status = entry.changes.get("status")
        if status is None:
            continue
        pausing = TicketStatus(status["new"]) in PAUSING
        if pausing and paused_since is None:
            paused_since = entry.at
        elif not pausing and paused_since is not None:
            pauses.append(Pause(paused_since, entry.at))
            paused_since = None
    if paused_since is not None:
        pauses.append(Pause(paused_since))
    return Timeline(
        created_at=ticket.created_at,
        pauses=pauses,
        first_reply_at=ticket.first_responded_at,
        customer_waiting_since=ticket.customer_waiting_since,
        solved_at=ticket.solved_at if ticket.status in _STOPPED else None,
    )
