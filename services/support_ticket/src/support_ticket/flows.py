"""Work across packages: customer-profile's events applied to the customers, then to the
tickets; a message added to a ticket and, for an agent's public reply to a requester with an
email, mailed to them."""

import uuid
from collections.abc import Sequence
from typing import Any

from crm_common.envelope import CloudEvent
from crm_common.kafka import BatchHandler
from crm_events.ticket import TicketChannel

from support_ticket.config import Settings
from support_ticket.customers.consumers import customer_events_handler
from support_ticket.mail import outbound
from support_ticket.tickets import service, thread
from support_ticket.tickets.consumers import customer_followups_handler
from support_ticket.tickets.models import AuthorKind, Delivery, Message, MessageKind, Ticket
from support_ticket.tickets.repository import Database
from support_ticket.tickets.thread import NewMessage

# Replies to tickets from these channels go out by mail; a chat's answer is read in the chat.
_MAILED = (TicketChannel.EMAIL, TicketChannel.WEB)


def attachment_rules(settings: Settings) -> thread.AttachmentRules:
    return thread.AttachmentRules(
        max_bytes=settings.attachment_max_bytes, content_types=settings.attachment_content_types
    )


async def post_message(
    *, database: Database, settings: Settings, ticket_id: str, message: NewMessage, actor: str
) -> tuple[Ticket, Message]:
    """Add `message` to the ticket; an agent's public reply to an emailing requester is mailed
    (with our Message-ID, so that the answer threads) once stored."""
    thread.check_attachments(message.attachments, attachment_rules(settings))
    ticket = await service.get_ticket(database=database, ticket_id=ticket_id)
    message_id = str(uuid.uuid4())
    mailed = (
        message.kind is MessageKind.REPLY
        and message.author.kind is AuthorKind.AGENT
        and ticket.channel in _MAILED
        and ticket.requester.email is not None
    )
    mail_ids: list[str] = []
    if mailed:
        message.mail_message_id = outbound.mail_id(message_id, settings)
        mail_ids.append(message.mail_message_id)
    ticket, stored = await thread.add_message(
        database=database,
        ticket_id=ticket_id,
        message_id=message_id,
        message=message,
        actor=actor,
        mail_ids=mail_ids,
    )
    if not mailed:
        return ticket, stored
    if settings.smtp_host is None:
        delivery = Delivery.DISABLED
    else:
        mail = outbound.compose(ticket=ticket, message=stored, settings=settings)
        delivery = Delivery.SENT if await outbound.send(mail, settings) else Delivery.FAILED
    return ticket, await thread.set_delivery(database=database, message=stored, delivery=delivery)


def customers_and_tickets_handler(database: Database) -> BatchHandler:
    """One consumer for crm.customers.v1: each batch goes to the customers first, then to the
    tickets, so that an attribution or a merge finds the merges before it already in the
    customers (a consumer of its own would read them at its own pace)."""
    customers = customer_events_handler(database)
    tickets = customer_followups_handler(database)

    async def handle(batch: Sequence[CloudEvent[dict[str, Any]]]) -> dict[int, Exception]:
        """Apply a batch to the customers, then the tickets; returns the events that break
        their contract, by position."""
        rejected = dict(await customers(batch) or {})
        kept = [position for position in range(len(batch)) if position not in rejected]
        followed = await tickets([batch[position] for position in kept]) or {}
        rejected.update({kept[index]: error for index, error in followed.items()})
        return rejected

    return handle
