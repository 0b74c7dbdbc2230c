"""Email in and out through real SMTP: replies mailed to an in-process aiosmtpd server, mail
received over HTTP and through the service's own SMTP listener."""

import socket
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
import httpx
import pytest
from aiosmtpd.controller import Controller
from asgi_lifespan import LifespanManager
from support_ticket.main import create_app

pytestmark = pytest.mark.integration


class Mailbox:
    """An SMTP server's handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(parsed)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
async def mail_app(settings, mailbox):
    """The service mailing replies to `mailbox`, with its SMTP listener on a free port."""
    configured = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": mailbox[1],
            "smtp_listen_host": "127.0.0.1",
            "smtp_listen_port": 0,
            "mail_from": "help@shop.example",
            "mail_domain": "help.shop.example",
        }
    )
    app = create_app(configured)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        yield app


@pytest.fixture
async def http(mail_app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(mail_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://st") as client:
        yield client


def mail(sender="ann@example.com", subject="Where is my parcel?", body="It never came.", **more):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "help@shop.example"
    message["Subject"] = subject
    message["Message-ID"] = more.pop("message_id", make_msgid(domain="mail.example"))
    for name, value in more.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


async def receive(http, auth, message):
    response = await http.post(
        "/v1/inbound/email",
        content=bytes(message),
        headers={**auth("agent"), "Content-Type": "message/rfc822"},
    )
    assert response.status_code == 202, response.text
    return response.json()


async def ticket(http, auth, ticket_id):
    return (await http.get(f"/v1/tickets/{ticket_id}", headers=auth("agent"))).json()


async def thread(http, auth, ticket_id):
    response = await http.get(f"/v1/tickets/{ticket_id}/messages", headers=auth("agent"))
    return response.json()["messages"]


async def reply(http, auth, ticket_id, body="Sorry! It left today.", status="pending"):
    response = await http.post(
        f"/v1/tickets/{ticket_id}/messages",
        json={"body": body, "status": status},
        headers=auth("agent"),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_mail_opens_a_ticket_once(http, auth):
    first = mail()
    opened = await receive(http, auth, first)
    again = await receive(http, auth, first)

    assert opened["outcome"] == "created"
    assert (again["outcome"], again["ticket_id"]) == ("duplicate", opened["ticket_id"])
    read = await ticket(http, auth, opened["ticket_id"])
    assert (read["channel"], read["status"], read["subject"]) == (
        "email",
        "new",
        "Where is my parcel?",
    )
    assert read["requester"]["email"] == "ann@example.com"
    assert [m["body"].strip() for m in await thread(http, auth, opened["ticket_id"])] == [
        "It never came."
    ]


async def test_a_reply_is_mailed_and_the_answer_threads_whatever_its_subject(http, auth, mailbox):
    box, _ = mailbox
    first = mail()
    opened = await receive(http, auth, first)
    ticket_id = opened["ticket_id"]

    sent = await reply(http, auth, ticket_id)
    assert sent["delivery"] == "sent"
    (out,) = box.messages
    number = (await ticket(http, auth, ticket_id))["number"]
    assert out["To"] == "ann@example.com"
    assert out["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in out["References"]
    assert out["Message-ID"].endswith("@help.shop.example>")
    assert f"[#{number}]" in out["Subject"]

    answer = mail(
        subject="totally different subject",
        body="Thanks, got it",
        In_Reply_To=out["Message-ID"],
        References=f"{first['Message-ID']} {out['Message-ID']}",
    )
    threaded = await receive(http, auth, answer)
    assert (threaded["outcome"], threaded["ticket_id"]) == ("threaded", ticket_id)
    assert (await ticket(http, auth, ticket_id))["status"] == "open"
    assert len(await thread(http, auth, ticket_id)) == 3


async def test_the_number_in_the_subject_threads_a_mail_without_references(http, auth):
    opened = await receive(http, auth, mail())
    number = (await ticket(http, auth, opened["ticket_id"]))["number"]

    again = await receive(http, auth, mail(subject=f"About [#{number}] again"))

    assert (again["outcome"], again["ticket_id"]) == ("threaded", opened["ticket_id"])


async def test_another_customer_never_joins_someone_elses_ticket(http, auth):
    newsletter = make_msgid(domain="news.shop.example")
    ann = await receive(http, auth, mail(In_Reply_To=newsletter, References=newsletter))
    number = (await ticket(http, auth, ann["ticket_id"]))["number"]

    bob = await receive(
        http, auth, mail(sender="bob@example.com", In_Reply_To=newsletter, References=newsletter)
    )
    bob_quoting = await receive(
        http, auth, mail(sender="bob@example.com", subject=f"Re: [#{number}]")
    )

    assert bob["outcome"] == bob_quoting["outcome"] == "created"
    assert len({ann["ticket_id"], bob["ticket_id"], bob_quoting["ticket_id"]}) == 3


async def test_a_copied_participant_answers_in_the_thread(http, auth):
    opened = await receive(http, auth, mail(Cc="Partner <carol@example.com>"))
    number = (await ticket(http, auth, opened["ticket_id"]))["number"]

    carol = await receive(http, auth, mail(sender="carol@example.com", subject=f"[#{number}]"))

    assert (carol["outcome"], carol["ticket_id"]) == ("threaded", opened["ticket_id"])


@pytest.mark.parametrize(
    "automatic",
    [{"Auto_Submitted": "auto-replied"}, {"Precedence": "bulk"}, {"X_Autoreply": "yes"}],
)
async def test_an_auto_reply_neither_reopens_nor_answers(http, auth, mailbox, automatic):
    box, _ = mailbox
    opened = await receive(http, auth, mail())
    ticket_id = opened["ticket_id"]
    sent = await reply(http, auth, ticket_id, status="solved")
    ours = box.messages[-1]["Message-ID"]
    version = (await ticket(http, auth, ticket_id))["version"]

    out_of_office = mail(subject="Out of office", In_Reply_To=ours, **automatic)
    filed = await receive(http, auth, out_of_office)

    assert sent["delivery"] == "sent"
    assert (filed["outcome"], filed["ticket_id"]) == ("threaded", ticket_id)
    after = await ticket(http, auth, ticket_id)
    assert (after["status"], after["version"]) == ("solved", version)
    assert [m["auto_reply"] for m in await thread(http, auth, ticket_id)] == [False, False, True]
    assert len(box.messages) == 1


async def test_an_auto_reply_to_nothing_of_ours_opens_nothing(http, auth):
    bounce = mail(sender="MAILER-DAEMON@mx.example.com", subject="Undeliverable")
    filed = await receive(http, auth, bounce)
    assert filed == {"outcome": "ignored", "ticket_id": None, "message_id": None}


async def test_a_closed_ticket_gets_a_follow_up_instead(http, auth):
    opened = await receive(http, auth, mail())
    ticket_id = opened["ticket_id"]
    for status in ("solved", "closed"):
        await http.patch(f"/v1/tickets/{ticket_id}", json={"status": status}, headers=auth("agent"))
    number = (await ticket(http, auth, ticket_id))["number"]

    later = await receive(http, auth, mail(subject=f"Re: [#{number}] still broken"))

    assert later["outcome"] == "created"
    assert later["ticket_id"] != ticket_id


async def test_unreadable_mail_is_a_problem_naming_the_header(http, auth):
    response = await http.post(
        "/v1/inbound/email",
        content=b"Subject: no sender\r\n\r\nhello\r\n",
        headers={**auth("agent"), "Content-Type": "message/rfc822"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "From"


async def test_mail_delivered_to_the_smtp_listener_opens_a_ticket(mail_app, http, auth, eventually):
    port = mail_app.state.smtp_listener.port
    message = mail(sender="dan@example.com", subject="Sent over SMTP")

    await aiosmtplib.send(message, hostname="127.0.0.1", port=port)

    async def opened() -> bool:
        page = await http.get("/v1/tickets", params={"q": "over SMTP"}, headers=auth("agent"))
        return len(page.json()["tickets"]) == 1

    await eventually(opened, timeout=10)
