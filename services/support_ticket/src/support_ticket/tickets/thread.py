"""A ticket's thread: public replies and internal notes, with their attachments, and what each
does to the ticket's status."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from crm_events.ticket import MessageAuthor, TicketStatus

from support_ticket.tickets import repository, service
from support_ticket.tickets.events import Reply
from support_ticket.tickets.exceptions import InvalidTicket
from support_ticket.tickets.models import (
    AttachmentInfo,
    Author,
    AuthorKind,
    Delivery,
    Message,
    MessageKind,
    Ticket,
)
from support_ticket.tickets.repository import Database

MAX_ATTACHMENTS = 10
# What each accepted type's content starts with: a declared type the bytes contradict is
# refused, so that a file is served back only as what it is.
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}
_TEXT_TYPES = ("text/plain", "text/csv")


@dataclass(frozen=True)
class NewAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass
class AttachmentRules:
    max_bytes: int
    content_types: Sequence[str]


@dataclass
class NewMessage:
    kind: MessageKind
    author: Author
    body: str
    attachments: list[NewAttachment] = field(default_factory=list)
    mail_message_id: str | None = None
    auto_reply: bool = False
    status: TicketStatus | None = None
    """The status an agent sets with the message."""


def check_attachments(attachments: Sequence[NewAttachment], rules: AttachmentRules) -> None:
    """Refuse (`InvalidTicket`, naming the attachment) what is too large, of a type not taken,
    or not what its declared type says."""
    if len(attachments) > MAX_ATTACHMENTS:
        raise InvalidTicket("attachments", f"at most {MAX_ATTACHMENTS} attachments a message")
    for index, attachment in enumerate(attachments):
        where = f"attachments.{index}"
        content_type = attachment.content_type.split(";")[0].strip().lower()
        if content_type not in rules.content_types:
            raise InvalidTicket(
                f"{where}.content_type",
                f"{content_type} is not taken; one of {', '.join(rules.content_types)}",
            )
        if len(attachment.content) > rules.max_bytes:
            raise InvalidTicket(f"{where}.content", f"larger than {rules.max_bytes} bytes")
        if not _is(content_type, attachment.content):
            raise InvalidTicket(f"{where}.content", f"the content is not {content_type}")


def _is(content_type: str, content: bytes) -> bool:
    if content_type in _SIGNATURES:
        return content.startswith(_SIGNATURES[content_type])
    if content_type in _TEXT_TYPES:
        try:
            content.decode()
        except UnicodeDecodeError:
            return False
        return b"\x00" not in content
    return True


async def store_message(
    *, database: Database, ticket_id: str, message_id: str, message: NewMessage
) -> Message:
    """Store the message and its attachments (a retry of the same `message_id` finds them)."""
    infos: list[AttachmentInfo] = []
    for attachment in message.attachments:
        attachment_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{message_id}/{len(infos)}"))
        await repository.insert_attachment(
            database=database,
            attachment_id=attachment_id,
            ticket_id=ticket_id,
            message_id=message_id,
            filename=attachment.filename,
            content_type=attachment.content_type,
            content=attachment.content,
        )
        infos.append(
            AttachmentInfo(
                attachment_id=attachment_id,
                filename=attachment.filename,
                content_type=attachment.content_type,
                size=len(attachment.content),
            )
        )
    stored = Message(
        message_id=message_id,
        ticket_id=ticket_id,
        kind=message.kind,
        author=message.author,
        body=message.body,
        attachments=infos,
        created_at=service.now(),
        mail_message_id=message.mail_message_id,
        auto_reply=message.auto_reply,
    )
    if not await repository.insert_message(database=database, message=stored):
        again = await repository.get_message(database=database, message_id=message_id)
        return again or stored
    return stored


async def add_message(
    *,
    database: Database,
    ticket_id: str,
    message_id: str,
    message: NewMessage,
    actor: str,
    mail_ids: Sequence[str] = (),
) -> tuple[Ticket, Message]:
    """Add a message to the ticket's thread and change the ticket as it calls for, once for
    the same `message_id` however often retried."""
    ticket = await service.get_ticket(database=database, ticket_id=ticket_id)
    if message.status is not None:
        # Refused before anything is stored.
        service.transition(ticket.model_copy(), message.status, at=service.now())
    stored = await store_message(
        database=database, ticket_id=ticket_id, message_id=message_id, message=message
    )
    if message.auto_reply:
        # An out-of-office or a bounce changes nothing: no reopening, no reply, no event.
        return ticket, stored

    public = message.kind is MessageKind.REPLY
    by_agent = message.author.kind is AuthorKind.AGENT
    by_customer = message.author.kind is AuthorKind.CUSTOMER

    def apply(ticket: Ticket, at: datetime) -> None:
        if by_agent and public:
            if ticket.first_responded_at is None:
                ticket.first_responded_at = at
            ticket.customer_waiting_since = None
            if ticket.status is TicketStatus.NEW and message.status is None:
                service.transition(ticket, TicketStatus.OPEN, at=at)
        if by_customer:
            if ticket.customer_waiting_since is None:
                ticket.customer_waiting_since = at
            if ticket.status in (TicketStatus.PENDING, TicketStatus.SOLVED):
                service.transition(ticket, TicketStatus.OPEN, at=at)
        if message.status is not None:
            service.transition(ticket, message.status, at=at)

    action = "replied" if public else "noted"
    reply = None
    if public and (by_agent or by_customer):
        author = MessageAuthor.AGENT if by_agent else MessageAuthor.CUSTOMER
        reply = Reply(message_id=message_id, author=author)
    changed = await service.change(
        database=database,
        ticket_id=ticket_id,
        actor=actor,
        action=action,
        mutate=apply,
        message_id=message_id,
        new_mail_ids=mail_ids,
        reply=reply,
    )
    return changed, stored


async def set_delivery(*, database: Database, message: Message, delivery: Delivery) -> Message:
    await repository.set_delivery(
        database=database, message_id=message.message_id, delivery=delivery.value
    )
    return message.model_copy(update={"delivery": delivery})


async def messages(*, database: Database, ticket_id: str) -> list[Message]:
    """The thread, oldest first."""
    await service.get_ticket(database=database, ticket_id=ticket_id)
    return await repository.messages_of(database=database, ticket_id=ticket_id)
