"""Ticket events that support-ticket publishes on `crm.tickets.v1`.

Every event carries the ticket as it stands after the change (`TicketSnapshot`) with a
`version` that grows with every change: keep the highest. The key (and CloudEvent `subject`) is
the ticket id, so one ticket's events stay in order.

A ticket opened by someone nobody knows yet carries their contact (`requester`) and no
`customer_id`; customer-profile, the only identity authority, resolves that contact and
announces `crm.customer.ticket_attributed` on `crm.customers.v1`, after which the ticket's
events name the customer. Durations are in business seconds of the ticket's SLA calendar
(nights, weekends, holidays and the time spent waiting on the customer or a third party do not
count). No event carries a subject line, a message body or a note.

`crm.ticket.updated` covers any change; the more specific events (status changed, assigned,
replied, solved, merged, split, an order action requested, SLA and CSAT) carry the same
snapshot with what a reader of that change needs beside it. One change publishes one event.
"""

from enum import StrEnum
from typing import Any

from crm_common.contracts import EventContract
from pydantic import Field

from crm_events._base import ContractModel
from crm_events.topics import CRM_TICKETS
from crm_events.types import Currency, Money, NonEmptyStr, OptionalText, UtcDatetime

__all__ = [
    "TICKET_ACTION_REQUESTED",
    "TICKET_ASSIGNED",
    "TICKET_CONTRACTS",
    "TICKET_CREATED",
    "TICKET_CSAT_GIVEN",
    "TICKET_MERGED",
    "TICKET_REPLIED",
    "TICKET_SLA_BREACHED",
    "TICKET_SLA_WARNING",
    "TICKET_SOLVED",
    "TICKET_SPLIT",
    "TICKET_STATUS_CHANGED",
    "TICKET_UNMERGED",
    "TICKET_UPDATED",
    "MessageAuthor",
    "OrderAction",
    "SlaTarget",
    "TicketActionRequested",
    "TicketAssigned",
    "TicketChannel",
    "TicketCreated",
    "TicketCsatGiven",
    "TicketMerged",
    "TicketPriority",
    "TicketReplied",
    "TicketRequester",
    "TicketSla",
    "TicketSlaBreached",
    "TicketSlaWarning",
    "TicketSnapshot",
    "TicketSolved",
    "TicketSplit",
    "TicketStatus",
    "TicketStatusChanged",
    "TicketUnmerged",
    "TicketUpdated",
]


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    """Waiting on the customer: SLA clocks pause."""
    ON_HOLD = "on_hold"
    """Waiting on a third party: SLA clocks pause."""
    SOLVED = "solved"
    CLOSED = "closed"


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketChannel(StrEnum):
    EMAIL = "email"
    WEB = "web"
    API = "api"
    CHAT = "chat"
    PHONE = "phone"


class TicketRequester(ContractModel):
    """The contact the ticket came from, for customer-profile to resolve."""

    email: OptionalText = None
    """As given: customer-profile normalises contacts."""
    phone: OptionalText = None


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class TicketSla(ContractModel):
    """The SLA policy that applies and where its clocks stand."""

    policy_id: NonEmptyStr
    first_response_due_at: UtcDatetime | None = None
    """Null once answered, or while the clock is paused."""
    next_response_due_at: UtcDatetime | None = None
    resolution_due_at: UtcDatetime | None = None
    breached: list[SlaTarget] = Field(default_factory=list)
    """The targets this ticket has missed so far."""


class TicketSnapshot(ContractModel):
    """A ticket after a change."""

    ticket_id: NonEmptyStr
    """support-ticket's id: the Kafka key and CloudEvent subject."""
    number: int = Field(ge=1)
    """The human number agents and customers quote (`#10042`)."""
    store_id: str | None = None
    channel: TicketChannel
    status: TicketStatus
    priority: TicketPriority = TicketPriority.NORMAL
    type: str | None = None
    """question, incident, problem, task, or a store's own type."""
    tags: list[str] = Field(default_factory=list)
    customer_id: str | None = None
    """customer-profile's id once the requester is known; null until then."""
    requester: TicketRequester = Field(default_factory=TicketRequester)
    assignee_id: str | None = None
    group_id: str | None = None
    order_ids: list[str] = Field(default_factory=list)
    """order-sync's ids of the orders the ticket is about."""
    sla: TicketSla | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    first_responded_at: UtcDatetime | None = None
    """The first public reply of an agent."""
    first_response_seconds: int | None = Field(default=None, ge=0)
    """Business seconds from creation to that reply."""
    solved_at: UtcDatetime | None = None
    """The last time it was solved (a reopened ticket is solved again later)."""
    resolution_seconds: int | None = Field(default=None, ge=0)
    """Business seconds from creation to `solved_at`, paused time left out."""
    reopened_count: int = Field(default=0, ge=0)
    csat_score: int | None = Field(default=None, ge=1, le=5)
    """The customer's satisfaction rating, 1 (bad) to 5 (great), once given."""
    version: int = Field(ge=1)
    """Grows with every change of the ticket."""


class TicketCreated(TicketSnapshot):
    """A ticket was opened (by the customer on any channel, or by an agent)."""


class TicketUpdated(TicketSnapshot):
    """A ticket changed: status, priority, assignee, group, tags, fields, a reply or a note
    (`first_responded_at` tells when the first public reply came)."""


class TicketSolved(TicketSnapshot):
    """A ticket was solved (`status` solved)."""


class TicketSlaWarning(TicketSnapshot):
    """An SLA target of the ticket is due soon (the policy's warning lead time)."""

    target: SlaTarget
    due_at: UtcDatetime


class TicketSlaBreached(TicketSnapshot):
    """An SLA target of the ticket passed without being met, at the moment it passed."""

    target: SlaTarget
    due_at: UtcDatetime


class TicketCsatGiven(TicketSnapshot):
    """The customer rated the support they got (`csat_score`)."""


class TicketStatusChanged(TicketSnapshot):
    """The ticket's status changed (`status` is the new one); solving is `crm.ticket.solved`."""

    previous_status: TicketStatus


class TicketAssigned(TicketSnapshot):
    """The ticket's assignee or group changed (`assignee_id`, `group_id` are the new ones)."""

    previous_assignee_id: str | None = None
    previous_group_id: str | None = None


class MessageAuthor(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"


class TicketReplied(TicketSnapshot):
    """A public message was added: an agent's reply or the customer's (never a body; internal
    notes are no reply)."""

    message_id: NonEmptyStr
    author: MessageAuthor


class TicketMerged(TicketSnapshot):
    """This ticket was merged into another (`status` closed); later mail to it lands there."""

    merged_into_ticket_id: NonEmptyStr


class TicketUnmerged(TicketSnapshot):
    """A merge of this ticket into another was undone: it is back as it was."""

    previously_merged_into_ticket_id: NonEmptyStr


class TicketSplit(TicketSnapshot):
    """This ticket was opened by splitting a message off another one."""

    split_from_ticket_id: NonEmptyStr
    message_id: NonEmptyStr
    """The message that moved here."""


class OrderAction(StrEnum):
    REFUND = "refund"
    CANCEL = "cancel"
    RESEND = "resend"


class TicketActionRequested(TicketSnapshot):
    """An agent asked, from the ticket, for an order to be refunded, cancelled or sent again:
    for the shop's integration to carry out. The ticket marks it done when order-sync announces
    the matching change of the order."""

    action_id: NonEmptyStr
    action: OrderAction
    order_id: NonEmptyStr
    """order-sync's id of the order."""
    amount: Money | None = None
    """For a partial refund; null: the whole order."""
    currency: Currency | None = None


_CREATED: dict[str, Any] = {
    "ticket_id": "d2c4e6f8-0a1b-4c3d-9e5f-6a7b8c9d0e1f",
    "number": 10042,
    "store_id": "demo",
    "channel": "email",
    "status": "new",
    "priority": "normal",
    "type": "question",
    "tags": ["shipping"],
    "customer_id": None,
    "requester": {"email": "ann@example.com", "phone": None},
    "assignee_id": None,
    "group_id": "tier-1",
    "order_ids": ["5b7f0d0c-3f1e-4f7a-9c55-2a4d3c0e9b61"],
    "sla": {
        "policy_id": "standard",
        "first_response_due_at": "2026-11-02T13:00:00Z",
        "next_response_due_at": None,
        "resolution_due_at": "2026-11-04T17:00:00Z",
        "breached": [],
    },
    "created_at": "2026-11-02T09:00:00Z",
    "updated_at": "2026-11-02T09:00:00Z",
    "first_responded_at": None,
    "first_response_seconds": None,
    "solved_at": None,
    "resolution_seconds": None,
    "reopened_count": 0,
    "csat_score": None,
    "version": 1,
}
_ANSWERED: dict[str, Any] = {
    **_CREATED,
    "status": "open",
    "customer_id": "7f3c1b9e-2d4a-4c6b-8e0f-1a2b3c4d5e6f",
    "assignee_id": "agent-7",
    "sla": {**_CREATED["sla"], "first_response_due_at": None},
    "updated_at": "2026-11-02T10:30:00Z",
    "first_responded_at": "2026-11-02T10:30:00Z",
    "first_response_seconds": 5400,
    "version": 3,
}
_SOLVED: dict[str, Any] = {
    **_ANSWERED,
    "status": "solved",
    "sla": {**_ANSWERED["sla"], "resolution_due_at": None},
    "updated_at": "2026-11-03T11:00:00Z",
    "solved_at": "2026-11-03T11:00:00Z",
    "resolution_seconds": 39600,
    "version": 5,
}


def _contract(event_type: str, model: type[Any], example: dict[str, Any]) -> EventContract[Any]:
    return EventContract(
        type=event_type,
        version=1,
        domain="ticket",
        model=model,
        topic=CRM_TICKETS,
        example=example,
        key="ticket_id",
        source="support-ticket",
    )


TICKET_CREATED = _contract("crm.ticket.created", TicketCreated, _CREATED)
TICKET_UPDATED = _contract("crm.ticket.updated", TicketUpdated, _ANSWERED)
TICKET_SOLVED = _contract("crm.ticket.solved", TicketSolved, _SOLVED)
TICKET_SLA_WARNING = _contract(
    "crm.ticket.sla_warning",
    TicketSlaWarning,
    {
        **_CREATED,
        "updated_at": "2026-11-02T12:30:00Z",
        "version": 2,
        "target": "first_response",
        "due_at": "2026-11-02T13:00:00Z",
    },
)
TICKET_SLA_BREACHED = _contract(
    "crm.ticket.sla_breached",
    TicketSlaBreached,
    {
        **_CREATED,
        "sla": {**_CREATED["sla"], "breached": ["first_response"]},
        "updated_at": "2026-11-02T13:00:00Z",
        "version": 2,
        "target": "first_response",
        "due_at": "2026-11-02T13:00:00Z",
    },
)
TICKET_CSAT_GIVEN = _contract(
    "crm.ticket.csat_given",
    TicketCsatGiven,
    {**_SOLVED, "csat_score": 5, "updated_at": "2026-11-03T18:00:00Z", "version": 6},
)

TICKET_STATUS_CHANGED = _contract(
    "crm.ticket.status_changed",
    TicketStatusChanged,
    {**_ANSWERED, "status": "pending", "version": 4, "previous_status": "open"},
)
TICKET_ASSIGNED = _contract(
    "crm.ticket.assigned",
    TicketAssigned,
    {**_CREATED, "assignee_id": "agent-7", "version": 2, "previous_group_id": "tier-1"},
)
TICKET_REPLIED = _contract(
    "crm.ticket.replied",
    TicketReplied,
    {**_ANSWERED, "message_id": "m-3", "author": "agent"},
)
TICKET_MERGED = _contract(
    "crm.ticket.merged",
    TicketMerged,
    {
        **_ANSWERED,
        "status": "closed",
        "version": 4,
        "merged_into_ticket_id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
    },
)
TICKET_UNMERGED = _contract(
    "crm.ticket.unmerged",
    TicketUnmerged,
    {
        **_ANSWERED,
        "version": 5,
        "previously_merged_into_ticket_id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
    },
)
TICKET_SPLIT = _contract(
    "crm.ticket.split",
    TicketSplit,
    {
        **_CREATED,
        "ticket_id": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
        "number": 10043,
        "split_from_ticket_id": "d2c4e6f8-0a1b-4c3d-9e5f-6a7b8c9d0e1f",
        "message_id": "m-5",
    },
)
TICKET_ACTION_REQUESTED = _contract(
    "crm.ticket.action_requested",
    TicketActionRequested,
    {
        **_ANSWERED,
        "version": 4,
        "action_id": "act-1",
        "action": "refund",
        "order_id": "5b7f0d0c-3f1e-4f7a-9c55-2a4d3c0e9b61",
        "amount": "12.50",
        "currency": "USD",
    },
)

TICKET_CONTRACTS: tuple[EventContract[Any], ...] = (
    TICKET_CREATED,
    TICKET_UPDATED,
    TICKET_SOLVED,
    TICKET_SLA_WARNING,
    TICKET_SLA_BREACHED,
    TICKET_CSAT_GIVEN,
    TICKET_STATUS_CHANGED,
    TICKET_ASSIGNED,
    TICKET_REPLIED,
    TICKET_MERGED,
    TICKET_UNMERGED,
    TICKET_SPLIT,
    TICKET_ACTION_REQUESTED,
)
