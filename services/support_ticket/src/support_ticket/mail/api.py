from typing import Annotated, Any

from crm_common.problems import ProblemError
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from support_ticket import flows
from support_ticket.deps import DatabaseDep, SettingsDep
from support_ticket.mail import service
from support_ticket.mail.inbound import UnreadableMail

router = APIRouter(prefix="/v1/inbound", tags=["mail"])

# The raw message is read as bytes and parsed by the email package: described here.
_RAW: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "message/rfc822": {
                "schema": {"type": "string", "description": "the whole RFC 5322 message"}
            }
        },
    }
}


class InboundReceipt(BaseModel):
    outcome: service.Outcome
    """created (a new ticket), threaded (joined one), duplicate (received before), ignored
    (an auto-reply answering no ticket)."""
    ticket_id: str | None
    message_id: str | None


@router.post(
    "/email",
    status_code=202,
    openapi_extra=_RAW,
    responses={422: {"description": "not a message a ticket can come from (the header named)"}},
)
async def receive_email(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    store_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> InboundReceipt:
    """A raw RFC 5322 message as mail providers forward it: opens a ticket or joins the one it
    answers (`store_id`: the store whose address received it)."""
    try:
        received = await service.receive(
            database=database,
            raw=await request.body(),
            store_id=store_id,
            rules=flows.attachment_rules(settings),
        )
    except UnreadableMail as error:
        raise ProblemError(
            422,
            f"the message is not usable: {error.reason}",
            title="Invalid request",
            errors=[{"field": error.field, "message": error.reason}],
        ) from error
    return InboundReceipt(
        outcome=received.outcome, ticket_id=received.ticket_id, message_id=received.message_id
    )
