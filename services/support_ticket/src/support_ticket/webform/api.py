import uuid
from typing import Annotated

from crm_events.ticket import TicketChannel
from fastapi import APIRouter, Path

from support_ticket.deps import DatabaseDep
from support_ticket.tickets import service, thread
from support_ticket.tickets.models import Author, AuthorKind, MessageKind, Requester
from support_ticket.tickets.service import NewTicket
from support_ticket.tickets.thread import NewMessage
from support_ticket.webform.schemas import WebFormReceipt, WebFormTicket

router = APIRouter(prefix="/v1/forms", tags=["web form"])
ACTOR = "customer:web-form"


@router.post("/{store_id}/tickets", status_code=201)
async def submit_form(
    store_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00]*$")],
    body: WebFormTicket,
    database: DatabaseDep,
) -> WebFormReceipt:
    """A ticket from a store's contact form: no token (the store's path is rate-limited);
    replies go to the email given."""
    ticket_id, message_id = str(uuid.uuid4()), str(uuid.uuid4())
    requester = Requester(email=body.email.lower(), name=body.name)
    await thread.store_message(
        database=database,
        ticket_id=ticket_id,
        message_id=message_id,
        message=NewMessage(
            kind=MessageKind.REPLY,
            author=Author(kind=AuthorKind.CUSTOMER, email=requester.email, name=requester.name),
            body=body.body,
        ),
    )
    ticket = await service.open_ticket(
        database=database,
        ticket_id=ticket_id,
        draft=NewTicket(
            subject=body.subject, channel=TicketChannel.WEB, store_id=store_id, requester=requester
        ),
        actor=ACTOR,
        message_id=message_id,
    )
    return WebFormReceipt(number=ticket.number)
