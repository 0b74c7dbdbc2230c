"""Agents' public replies, mailed to the requester through SMTP with our Message-ID and the
thread's In-Reply-To and References, so that the customer's answer finds its ticket."""

import logging
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from support_ticket.config import Settings
from support_ticket.tickets.models import Message, Ticket

logger = logging.getLogger(__name__)

# References are bounded: a long thread keeps its first message and its latest ones.
_REFERENCES_KEPT = 20


def mail_id(message_id: str, settings: Settings) -> str:
    """Our Message-ID for a reply."""
    return f"<{message_id}@{settings.mail_domain}>"


def subject_of(ticket: Ticket) -> str:
    """The reply's subject: the ticket's, with its number for mail clients that drop headers."""
    subject = ticket.subject
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    tag = f"[#{ticket.number}]"
    return subject if tag in subject else f"{subject} {tag}"


def compose(*, ticket: Ticket, message: Message, settings: Settings) -> EmailMessage:
    """The reply `message` to `ticket`, whose `mail_ids` are the thread before it."""
    if ticket.requester.email is None or message.mail_message_id is None:
        raise ValueError("a reply is mailed to a requester's email, with our Message-ID")
    earlier = [i for i in ticket.mail_ids if i != message.mail_message_id]
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = ticket.requester.email
    mail["Subject"] = subject_of(ticket)
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = message.mail_message_id
    if earlier:
        mail["In-Reply-To"] = earlier[-1]
        kept = earlier if len(earlier) <= _REFERENCES_KEPT else [earlier[0], *earlier[-19:]]
        mail["References"] = " ".join(kept)
    mail.set_content(message.body)
    return mail


async def send(mail: EmailMessage, settings: Settings) -> bool:
    """Hand `mail` to the SMTP server; False when it refused or could not be reached."""
    if settings.smtp_host is None:
        raise ValueError("no SMTP server is configured")
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    try:
        await aiosmtplib.send(
            mail,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password,
            start_tls=settings.smtp_start_tls,
            timeout=settings.smtp_timeout_seconds,
        )
    except (aiosmtplib.SMTPException, OSError):
        logger.exception("reply not mailed", extra={"message_id": mail["Message-ID"]})
        return False
    return True
