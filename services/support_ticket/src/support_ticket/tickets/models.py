"""The documents of the ticket collections, as stored."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from crm_events.ticket import TicketChannel, TicketPriority, TicketSla, TicketStatus
from pydantic import BaseModel, ConfigDict, Field

TICKETS = "tickets"
MESSAGES = "messages"
ATTACHMENTS = "attachments"
COUNTERS = "counters"
FIELD_DEFINITIONS = "ticket_fields"


class Requester(BaseModel):
    """Who the ticket came from, as they gave themselves: their contact until customer-profile
    names the customer, and what replies are mailed to."""

    email: str | None = None
    phone: str | None = None
    name: str | None = None


class HistoryEntry(BaseModel):
    """One change of a ticket: who, what (each field's old and new value), when."""

    at: datetime
    actor: str
    """The token subject of an agent, `customer`, or `system:<what>`."""
    action: str
    changes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """By field: `{"old": ..., "new": ...}` (not pairs: FerretDB stores no arrays in arrays)."""
    message_id: str | None = None


class PendingEvent(BaseModel):
    """A ticket event written with the change it announces, until the relay has published it."""

    event_id: str
    version: int
    payload: bytes
    """The CloudEvent as published."""


class Ticket(BaseModel):
    """One ticket; `version` grows with every change and guards every write."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    ticket_id: str = Field(alias="_id")
    number: int
    store_id: str | None = None
    subject: str
    channel: TicketChannel
    status: TicketStatus = TicketStatus.NEW
    priority: TicketPriority = TicketPriority.NORMAL
    type: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    requester: Requester = Field(default_factory=Requester)
    attributed_customer_id: str | None = None
    """The customer customer-profile named (or the caller gave); kept to undo merges."""
    customer_id: str | None = None
    """That customer, or the one it was merged into."""
    assignee_id: str | None = None
    group_id: str | None = None
    followers: list[str] = Field(default_factory=list)
    order_ids: list[str] = Field(default_factory=list)
    participants: list[str] = Field(default_factory=list)
    """Emails copied on the ticket's mail besides the requester: they may answer in its thread."""
    mail_ids: list[str] = Field(default_factory=list)
    """The Message-IDs of the ticket's mail, ours and received, for threading replies."""
    created_at: datetime
    updated_at: datetime
    first_responded_at: datetime | None = None
    customer_waiting_since: datetime | None = None
    """The customer's first public message since the last public reply of an agent; None when
    every customer message is answered."""
    solved_at: datetime | None = None
    reopened_count: int = 0
    erased: bool = False
    sla: TicketSla | None = None
    """The policy that applies and where its clocks stand, as of the last change."""
    first_response_seconds: int | None = None
    resolution_seconds: int | None = None
    next_alert_at: datetime | None = None
    """When the SLA scheduler must look at the ticket again (an alert owed, a warning or a due
    instant ahead); None when no clock runs."""
    sla_revision: int = 0
    """The SLA configuration's revision the ticket was computed with."""
    sla_announced: list[str] = Field(default_factory=list)
    """The alerts published, as `<target>:<kind>:<due instant>`: each is published once."""
    version: int = 1
    history: list[HistoryEntry] = Field(default_factory=list)
    outbox: list[PendingEvent] = Field(default_factory=list)


class MessageKind(StrEnum):
    REPLY = "reply"
    """Public: the requester sees it."""
    NOTE = "note"
    """Internal: agents only."""


class AuthorKind(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    SYSTEM = "system"


class Author(BaseModel):
    kind: AuthorKind
    id: str | None = None
    """The agent's token subject; null for customers."""
    email: str | None = None
    name: str | None = None


class AttachmentInfo(BaseModel):
    attachment_id: str
    filename: str
    content_type: str
    size: int


class Delivery(StrEnum):
    NONE = "none"
    """Not for mailing (a note, or a ticket with no email to reply to)."""
    SENT = "sent"
    FAILED = "failed"
    DISABLED = "disabled"
    """No SMTP server is configured."""


class Message(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    message_id: str = Field(alias="_id")
    ticket_id: str
    kind: MessageKind
    author: Author
    body: str
    attachments: list[AttachmentInfo] = Field(default_factory=list)
    created_at: datetime
    mail_message_id: str | None = None
    auto_reply: bool = False
    """An automatic answer (out of office, bounce): kept in the thread, changes nothing."""
    delivery: Delivery = Delivery.NONE


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    CHECKBOX = "checkbox"
    DATE = "date"
    DROPDOWN = "dropdown"


class FieldDefinition(BaseModel):
    """A custom ticket field of one store: its key, type, and for dropdowns the options."""

    store_id: str
    key: str
    label: str
    type: FieldType
    options: list[str] = Field(default_factory=list)
    required: bool = False
