"""Inbound mail to tickets.

A message joins a ticket by the Message-IDs it answers (In-Reply-To, References) when the
ticket holds one of them (ours, or a message the ticket received), else by the ticket number in
its subject; a changed subject keeps the thread. Either way its sender must be the ticket's
requester or one of the people the thread was copied to: two customers answering the same
newsletter never join each other's ticket. A closed ticket is not reopened: the mail opens a
follow-up. An auto-reply is kept in the thread it answers and changes nothing; one that answers
no ticket is dropped.
"""

import hashlib
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

from crm_events.ticket import TicketChannel, TicketStatus

from support_ticket.mail.inbound import InboundMail, parse
from support_ticket.tickets import repository, service, thread
from support_ticket.tickets.exceptions import InvalidTicket
from support_ticket.tickets.models import Author, AuthorKind, MessageKind, Requester, Ticket
from support_ticket.tickets.repository import Database
from support_ticket.tickets.service import NewTicket
from support_ticket.tickets.thread import AttachmentRules, NewAttachment, NewMessage

CUSTOMER = "customer"
_NUMBER = re.compile(r"#(\d{5,12})\b")


class Outcome(StrEnum):
    CREATED = "created"
    THREADED = "threaded"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    """An auto-reply that answers no ticket of ours."""


@dataclass(frozen=True)
class Received:
    outcome: Outcome
    ticket_id: str | None = None
    message_id: str | None = None


def _id_of(mail_message_id: str, what: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mail:{what}:{mail_message_id}"))


async def receive(
    *, database: Database, raw: bytes, store_id: str | None, rules: AttachmentRules
) -> Received:
    """File the raw RFC 5322 message `raw` (`UnreadableMail` when it cannot be); receiving the
    same message again changes nothing."""
    mail = parse(raw, fallback_id=hashlib.sha256(raw).hexdigest()[:32])
    message_id = _id_of(mail.message_id, "message")
    known = await repository.find_message_by_mail_id(
        database=database, mail_message_id=mail.message_id
    )
    ticket = await _thread_of(database, mail, store_id)
    if known is not None and ticket is not None and _seen(ticket, message_id):
        return Received(Outcome.DUPLICATE, known.ticket_id, known.message_id)
    message = NewMessage(
        kind=MessageKind.REPLY,
        author=Author(kind=AuthorKind.CUSTOMER, email=mail.sender, name=mail.sender_name),
        body=mail.body,
        attachments=_accepted(mail.attachments, rules),
        mail_message_id=mail.message_id,
        auto_reply=mail.auto_reply,
    )
    if ticket is not None:
        await thread.add_message(
            database=database,
            ticket_id=ticket.ticket_id,
            message_id=message_id,
            message=message,
            actor=CUSTOMER,
            mail_ids=[mail.message_id],
        )
        return Received(Outcome.THREADED, ticket.ticket_id, message_id)
    if mail.auto_reply:
        return Received(Outcome.IGNORED)
    ticket_id = _id_of(mail.message_id, "ticket")
    await thread.store_message(
        database=database, ticket_id=ticket_id, message_id=message_id, message=message
    )
    draft = NewTicket(
        subject=mail.subject,
        channel=TicketChannel.EMAIL,
        store_id=store_id,
        requester=Requester(email=mail.sender, name=mail.sender_name),
        participants=[address for address in mail.cc if address != mail.sender],
    )
    await service.open_ticket(
        database=database,
        ticket_id=ticket_id,
        draft=draft,
        actor=CUSTOMER,
        message_id=message_id,
        mail_ids=[mail.message_id],
    )
    return Received(Outcome.CREATED, ticket_id, message_id)


def _seen(ticket: Ticket, message_id: str) -> bool:
    return any(entry.message_id == message_id for entry in ticket.history)


async def _thread_of(database: Database, mail: InboundMail, store_id: str | None) -> Ticket | None:
    """The open ticket `mail` belongs to, by the ids it answers, then by the number in its
    subject; None for a new conversation."""
    own = await repository.find_by_mail_ids(database=database, mail_ids=[mail.message_id])
    if own:
        return own[0]  # a redelivery of the mail that opened or joined this ticket
    for ticket in await repository.find_by_mail_ids(database=database, mail_ids=mail.references):
        if _may_join(ticket, mail):
            return ticket
    for number in _NUMBER.findall(mail.subject):
        numbered = await repository.get_by_number(
            database=database, store_id=store_id, number=int(number)
        )
        if numbered is not None and _may_join(numbered, mail):
            return numbered
    return None


def _may_join(ticket: Ticket, mail: InboundMail) -> bool:
    if ticket.status is TicketStatus.CLOSED:
        return False
    participants = {ticket.requester.email, *ticket.participants}
    return mail.sender in {p.lower() for p in participants if p}


def _accepted(attachments: list[NewAttachment], rules: AttachmentRules) -> list[NewAttachment]:
    """The attachments the rules take; a mail is not refused for one it should not carry."""
    accepted = []
    for attachment in attachments:
        try:
            thread.check_attachments([attachment], rules)
        except InvalidTicket:
            continue
        accepted.append(attachment)
    return accepted[: thread.MAX_ATTACHMENTS]
