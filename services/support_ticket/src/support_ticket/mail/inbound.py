"""Reading a raw RFC 5322 message (as mail providers forward it) into what a ticket needs."""

import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

from support_ticket.tickets.thread import NewAttachment

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_TAG = re.compile(r"<[^>]*>")
_AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_DAEMONS = ("mailer-daemon@", "postmaster@")


class UnreadableMail(ValueError):
    """Not a message a ticket can come from; the reason names the header at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass
class InboundMail:
    message_id: str
    sender: str
    """The From address, lower-cased."""
    sender_name: str | None
    subject: str
    references: list[str]
    """In-Reply-To first, then References from the newest back."""
    body: str
    attachments: list[NewAttachment] = field(default_factory=list)
    auto_reply: bool = False
    cc: list[str] = field(default_factory=list)


def parse(raw: bytes, *, fallback_id: str) -> InboundMail:
    """The mail in `raw`; `fallback_id` stands in for a missing Message-ID (a digest of the
    bytes, so that the same message delivered twice is recognised)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # what policy.default makes
    senders = [address for _, address in getaddresses([str(message.get("From", ""))]) if address]
    if not senders or "@" not in senders[0]:
        raise UnreadableMail("From", "no sender address")
    names = [name for name, _ in getaddresses([str(message.get("From", ""))])]
    ids = _MESSAGE_ID.findall(str(message.get("Message-ID", "")))
    in_reply_to = _MESSAGE_ID.findall(str(message.get("In-Reply-To", "")))
    references = _MESSAGE_ID.findall(str(message.get("References", "")))
    cc = [address.lower() for _, address in getaddresses([str(message.get("Cc", ""))]) if address]
    return InboundMail(
        message_id=ids[0] if ids else f"<{fallback_id}@inbound.invalid>",
        sender=senders[0].lower(),
        sender_name=names[0] or None,
        subject=" ".join(str(message.get("Subject", "")).split())[:500] or "(no subject)",
        references=list(dict.fromkeys([*in_reply_to, *reversed(references)])),
        body=_text(message),
        attachments=_attachments(message),
        auto_reply=is_auto_reply(message, senders[0].lower()),
        cc=cc,
    )


def is_auto_reply(message: EmailMessage, sender: str) -> bool:
    """An answer no person wrote: out-of-office and other auto-replies (RFC 3834), bulk mail,
    delivery reports (RFC 3464). Answering one, or reopening a ticket for it, starts loops."""
    auto_submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if str(message.get("Precedence", "")).strip().lower() in _AUTO_PRECEDENCE:
        return True
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return True
    if message.get_content_type() == "multipart/report":
        return True
    if str(message.get("Return-Path", "")).strip() == "<>":
        return True
    return sender.startswith(_DAEMONS)


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    assert isinstance(part, EmailMessage)
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        content = payload.decode(errors="replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_type() == "text/html":
        content = _TAG.sub(" ", content)
    return content.replace("\x00", "")[:100_000]


def _attachments(message: EmailMessage) -> list[NewAttachment]:
    found = []
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        found.append(
            NewAttachment(
                filename=(part.get_filename() or "attachment").replace("\x00", "")[:200],
                content_type=part.get_content_type(),
                content=payload,
            )
        )
    return found
