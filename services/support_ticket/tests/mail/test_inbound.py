"""Reading raw RFC 5322 messages (no infrastructure)."""

from email.message import EmailMessage

import pytest
from support_ticket.mail.inbound import UnreadableMail, parse
from support_ticket.mail.outbound import subject_of
from support_ticket.tickets.models import Ticket


def raw(**headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = headers.pop("From", "Ann Lee <Ann@Example.com>")
    mail["To"] = "support@example.com"
    mail["Subject"] = headers.pop("Subject", "Where is my parcel?")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("Hello,\nit has not come.\n")
    return mail.as_bytes()


def test_a_plain_message_is_read():
    mail = parse(
        raw(Message_ID="<m1@mail.example>", In_Reply_To="<b@x>", References="<a@x> <b@x>"),
        fallback_id="f",
    )
    assert mail.message_id == "<m1@mail.example>"
    assert (mail.sender, mail.sender_name) == ("ann@example.com", "Ann Lee")
    assert mail.subject == "Where is my parcel?"
    assert mail.references == ["<b@x>", "<a@x>"]
    assert "it has not come" in mail.body
    assert not mail.auto_reply


def test_a_message_without_id_gets_the_fallback():
    assert parse(raw(), fallback_id="digest").message_id == "<digest@inbound.invalid>"


def test_a_message_without_sender_is_unreadable():
    with pytest.raises(UnreadableMail) as refused:
        parse(b"Subject: hi\r\n\r\nbody\r\n", fallback_id="f")
    assert refused.value.field == "From"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X_Autoreply": "yes"},
        {"Return_Path": "<>"},
        {"From": "MAILER-DAEMON@mx.example.com"},
    ],
)
def test_automatic_answers_are_recognised(headers):
    assert parse(raw(**headers), fallback_id="f").auto_reply


def test_auto_submitted_no_is_a_person():
    assert not parse(raw(Auto_Submitted="no"), fallback_id="f").auto_reply


def test_a_delivery_report_is_recognised():
    report = EmailMessage()
    report["From"] = "postmaster@mx.example.com"
    report["Subject"] = "Undelivered Mail"
    report.set_content("could not deliver")
    report.make_mixed()
    report.replace_header("Content-Type", "multipart/report; report-type=delivery-status")
    assert parse(report.as_bytes(), fallback_id="f").auto_reply


def test_html_only_mail_is_read_as_text_and_attachments_come_along():
    mail = EmailMessage()
    mail["From"] = "ann@example.com"
    mail["Subject"] = "Photo"
    mail.set_content("<p>See <b>this</b></p>", subtype="html")
    mail.add_attachment(b"\x89PNG\r\n\x1a\nrest", maintype="image", subtype="png", filename="a.png")
    parsed = parse(mail.as_bytes(), fallback_id="f")
    assert "See" in parsed.body
    assert "<b>" not in parsed.body
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [("a.png", "image/png")]


def test_a_reply_subject_carries_the_number_once():
    ticket = Ticket.model_construct(subject="Re: Parcel [#10042]", number=10042)
    assert subject_of(ticket) == "Re: Parcel [#10042]"
    assert subject_of(ticket.model_copy(update={"subject": "Parcel"})) == "Re: Parcel [#10042]"
