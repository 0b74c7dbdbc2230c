"""The ticket API's input and output models."""

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

from crm_common.access import mask_email, mask_phone, mask_text
from crm_events.ticket import TicketChannel, TicketPriority, TicketSla, TicketStatus
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from support_ticket.tickets.models import (
    AttachmentInfo,
    Author,
    Delivery,
    FieldType,
    HistoryEntry,
    Message,
    MessageKind,
    Ticket,
)

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Subject = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"^[^\x00]*$"),
]
Body = Annotated[str, StringConstraints(max_length=100_000, pattern=r"^[^\x00]*$")]
Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class RequesterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: (
        Annotated[str, StringConstraints(pattern=r"^[^@\s\x00]+@[^@\s\x00]+$", max_length=320)]
        | None
    ) = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ().-]{3,32}$")] | None = None
    name: Name | None = None


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: Name
    content_type: Annotated[
        str, StringConstraints(pattern=r"^[a-z]+/[a-z0-9.+-]+$", max_length=100)
    ]
    content_base64: str = Field(description="the file's bytes, base64 (standard alphabet)")

    @field_validator("content_base64")
    @classmethod
    def _is_base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not base64") from None
        return value

    def content(self) -> bytes:
        return base64.b64decode(self.content_base64)


class FirstMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Body
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)


class TicketCreate(BaseModel):
    """A ticket opened by an agent or through the API or chat channel: for a customer known by
    id, or a contact (customer-profile attributes it later)."""

    model_config = ConfigDict(extra="forbid")

    subject: Subject
    channel: TicketChannel = TicketChannel.API
    store_id: Name | None = None
    customer_id: Name | None = None
    requester: RequesterIn = Field(default_factory=RequesterIn)
    status: TicketStatus = TicketStatus.NEW
    priority: TicketPriority = TicketPriority.NORMAL
    type: Name | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    custom_fields: dict[Key, Any] = Field(default_factory=dict, max_length=100)
    assignee_id: Name | None = None
    group_id: Name | None = None
    followers: list[Name] = Field(default_factory=list, max_length=50)
    order_ids: list[Name] = Field(default_factory=list, max_length=50)
    message: FirstMessage | None = None
    """The customer's words (a public message from the requester), if any."""


class TicketUpdate(BaseModel):
    """The fields to change; those left out stay. `version`, when given, must be the ticket's
    current one (409 otherwise)."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, le=2**53)
    subject: Subject | None = None
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    type: Name | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    custom_fields: dict[Key, Any] | None = Field(default=None, max_length=100)
    assignee_id: Name | None = None
    group_id: Name | None = None
    followers: list[Name] | None = Field(default=None, max_length=50)


class RequesterRead(BaseModel):
    email: str | None
    phone: str | None
    name: str | None


class TicketRead(BaseModel):
    ticket_id: str
    number: int
    store_id: str | None
    subject: str
    channel: TicketChannel
    status: TicketStatus
    priority: TicketPriority
    type: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    requester: RequesterRead
    customer_id: str | None
    assignee_id: str | None
    group_id: str | None
    followers: list[str]
    order_ids: list[str]
    created_at: datetime
    updated_at: datetime
    first_responded_at: datetime | None
    customer_waiting_since: datetime | None
    """The customer's oldest unanswered public message, if any."""
    solved_at: datetime | None
    reopened_count: int
    sla: TicketSla | None
    """The SLA policy that applies and its open due instants; null when none applies."""
    first_response_seconds: int | None
    """Business seconds to the first reply, when the policy tracks it."""
    resolution_seconds: int | None
    version: int

    @classmethod
    def of(cls, ticket: Ticket, *, unmasked: bool) -> "TicketRead":
        read = cls.model_validate(ticket, from_attributes=True)
        if unmasked:
            return read
        requester = ticket.requester
        return read.model_copy(
            update={
                "requester": RequesterRead(
                    email=mask_email(requester.email),
                    phone=mask_phone(requester.phone),
                    name=mask_text(requester.name),
                )
            }
        )


class TicketPage(BaseModel):
    """Most recently changed first; pass `next_cursor` as `cursor` for the next page (null at
    the end)."""

    tickets: list[TicketRead]
    next_cursor: str | None


class HistoryRead(BaseModel):
    entries: list[HistoryEntry]


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: MessageKind = MessageKind.REPLY
    author: Literal["agent", "customer"] = "agent"
    """`customer` for the requester's own words (chat and API channels)."""
    body: Body
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)
    status: TicketStatus | None = None
    """The status the ticket takes with the message (e.g. pending: waiting on the customer)."""


class MessageRead(BaseModel):
    message_id: str
    ticket_id: str
    kind: MessageKind
    author: Author
    body: str | None
    """Null for roles without the personal-data right."""
    attachments: list[AttachmentInfo]
    created_at: datetime
    auto_reply: bool
    delivery: Delivery

    @classmethod
    def of(cls, message: Message, *, unmasked: bool) -> "MessageRead":
        read = cls.model_validate(message, from_attributes=True)
        if unmasked:
            return read
        author = message.author.model_copy(
            update={
                "email": mask_email(message.author.email),
                "name": mask_text(message.author.name),
            }
        )
        return read.model_copy(update={"body": None, "author": author})


class MessageList(BaseModel):
    messages: list[MessageRead]


class FieldDefinitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Name
    type: FieldType
    options: list[Name] = Field(default_factory=list, max_length=200)
    required: bool = False


class FieldDefinitionRead(FieldDefinitionIn):
    store_id: str
    key: str


class FieldDefinitionList(BaseModel):
    fields: list[FieldDefinitionRead]
