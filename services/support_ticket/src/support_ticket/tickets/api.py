import uuid
from datetime import datetime
from typing import Annotated, Any

from crm_common.problems import NotFound
from crm_events.ticket import TicketStatus
from fastapi import APIRouter, Path, Query, Response

from support_ticket import flows
from support_ticket.deps import Caller, DatabaseDep, PersonalDataDep, SettingsDep
from support_ticket.tickets import listing, repository, service, thread
from support_ticket.tickets.exceptions import AttachmentNotFound, InvalidTicket
from support_ticket.tickets.models import (
    Author,
    AuthorKind,
    FieldDefinition,
    FieldType,
    MessageKind,
    Requester,
    Ticket,
)
from support_ticket.tickets.repository import TicketFilters
from support_ticket.tickets.schemas import (
    AttachmentIn,
    FieldDefinitionIn,
    FieldDefinitionList,
    FieldDefinitionRead,
    HistoryRead,
    MessageCreate,
    MessageList,
    MessageRead,
    TicketCreate,
    TicketPage,
    TicketRead,
    TicketUpdate,
)
from support_ticket.tickets.service import NewTicket
from support_ticket.tickets.thread import NewAttachment, NewMessage
from support_ticket.views import repository as views

router = APIRouter(tags=["tickets"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such ticket"}}
Filter = Annotated[str | None, Query(min_length=1, max_length=200)]


def _attachments(attachments: list[AttachmentIn]) -> list[NewAttachment]:
    return [NewAttachment(a.filename, a.content_type, a.content()) for a in attachments]


@router.post("/v1/tickets", status_code=201)
async def open_ticket(
    body: TicketCreate, database: DatabaseDep, settings: SettingsDep, caller: Caller
) -> TicketRead:
    """Open a ticket (API and chat channels, or an agent on a customer's behalf), with the
    customer's first message if given. A requester known only by contact is attributed to a
    customer later, when customer-profile names them."""
    requester = Requester(**body.requester.model_dump())
    if body.customer_id is None and requester.email is None and requester.phone is None:
        raise InvalidTicket("requester", "give the customer_id, or the requester's email or phone")
    ticket_id = str(uuid.uuid4())
    message_id = None
    if body.message is not None:
        message_id = str(uuid.uuid4())
        attachments = _attachments(body.message.attachments)
        thread.check_attachments(attachments, flows.attachment_rules(settings))
    draft = NewTicket(
        **body.model_dump(include=set(NewTicket.__dataclass_fields__) - {"requester"}),
        requester=requester,
    )
    # Checked before the first message is stored, so a refused ticket leaves nothing behind.
    await service.validated_fields(
        database=database, store_id=draft.store_id, values=draft.custom_fields
    )
    if body.message is not None and message_id is not None:
        author = Author(kind=AuthorKind.CUSTOMER, email=requester.email, name=requester.name)
        await thread.store_message(
            database=database,
            ticket_id=ticket_id,
            message_id=message_id,
            message=NewMessage(
                kind=MessageKind.REPLY,
                author=author,
                body=body.message.body,
                attachments=attachments,
            ),
        )
    ticket = await service.open_ticket(
        database=database,
        ticket_id=ticket_id,
        draft=draft,
        actor=caller.subject,
        message_id=message_id,
    )
    return TicketRead.of(ticket, unmasked=True)


@router.get("/v1/tickets", responses={404: {"description": "no such view of yours"}})
async def list_tickets(
    database: DatabaseDep,
    caller: Caller,
    unmasked: PersonalDataDep,
    store_id: Filter = None,
    status: Annotated[list[TicketStatus] | None, Query()] = None,
    assignee_id: Filter = None,
    group_id: Filter = None,
    customer_id: Filter = None,
    tag: Filter = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="in the subject")
    ] = None,
    view_id: Filter = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> TicketPage:
    """Tickets, most recently changed first, filtered and cursor-paginated (`next_cursor`, null
    at the end). `status` may be repeated; `q` matches the subject, ignoring case; `view_id`
    applies one of your saved views (filters given here take precedence)."""
    filters = TicketFilters(
        store_id=store_id,
        statuses=tuple(s.value for s in status or ()),
        assignee_id=assignee_id,
        group_id=group_id,
        customer_id=customer_id,
        tag=tag,
        text=q,
    )
    if view_id is not None:
        view = await views.get(database=database, owner=caller.subject, view_id=view_id)
        if view is None:
            raise NotFound(f"view {view_id}")
        saved = view.filters
        filters = TicketFilters(
            store_id=store_id or saved.store_id,
            statuses=filters.statuses or tuple(saved.status),
            assignee_id=assignee_id or saved.assignee_id,
            group_id=group_id or saved.group_id,
            customer_id=customer_id or saved.customer_id,
            tag=tag or saved.tag,
            text=q or saved.q,
        )
    tickets, next_cursor = await listing.list_tickets(
        database=database, filters=filters, limit=limit, cursor=cursor
    )
    return TicketPage(
        tickets=[TicketRead.of(ticket, unmasked=unmasked) for ticket in tickets],
        next_cursor=next_cursor,
    )


@router.get("/v1/tickets/{ticket_id}", responses=NOT_FOUND)
async def read_ticket(
    ticket_id: str, database: DatabaseDep, unmasked: PersonalDataDep
) -> TicketRead:
    """A ticket (the requester's contact masked for roles without the personal-data right)."""
    ticket = await service.get_ticket(database=database, ticket_id=ticket_id)
    return TicketRead.of(ticket, unmasked=unmasked)


@router.patch(
    "/v1/tickets/{ticket_id}",
    responses={
        **NOT_FOUND,
        409: {"description": "the ticket is at another version than the one given"},
    },
)
async def update_ticket(
    ticket_id: str, body: TicketUpdate, database: DatabaseDep, caller: Caller
) -> TicketRead:
    """Change a ticket: status (as its transitions allow), priority, type, tags, custom fields,
    assignee, group, followers, subject. Every change is kept in its history."""
    given = body.model_fields_set - {"version"}
    current = await service.get_ticket(database=database, ticket_id=ticket_id)
    custom = (
        await service.validated_fields(
            database=database, store_id=current.store_id, values=body.custom_fields
        )
        if body.custom_fields
        else {}
    )
    for name in ("subject", "priority", "status"):
        if name in given and getattr(body, name) is None:
            raise InvalidTicket(name, "cannot be null")

    def apply(ticket: Ticket, at: datetime) -> None:
        for name in ("subject", "priority", "type", "assignee_id", "group_id"):
            if name in given:
                setattr(ticket, name, getattr(body, name))
        if "tags" in given:
            ticket.tags = sorted(set(body.tags or ()))
        if "followers" in given:
            ticket.followers = sorted(set(body.followers or ()))
        if custom:
            ticket.custom_fields = {
                key: value
                for key, value in {**ticket.custom_fields, **custom}.items()
                if value is not None
            }
        if body.status is not None:
            service.transition(ticket, body.status, at=at)

    ticket = await service.change(
        database=database,
        ticket_id=ticket_id,
        actor=caller.subject,
        action="updated",
        mutate=apply,
        expected_version=body.version,
    )
    return TicketRead.of(ticket, unmasked=True)


@router.get("/v1/tickets/{ticket_id}/history", responses=NOT_FOUND)
async def read_history(ticket_id: str, database: DatabaseDep) -> HistoryRead:
    """Every change of the ticket, oldest first: who, what (old and new values), when."""
    ticket = await service.get_ticket(database=database, ticket_id=ticket_id)
    return HistoryRead(entries=ticket.history)


@router.post("/v1/tickets/{ticket_id}/messages", status_code=201, responses=NOT_FOUND)
async def post_message(
    ticket_id: str,
    body: MessageCreate,
    database: DatabaseDep,
    settings: SettingsDep,
    caller: Caller,
) -> MessageRead:
    """Add a public reply or an internal note. An agent's reply to a ticket that came by email
    or web form is mailed to the requester; `author: customer` posts the requester's words
    (the chat and API channels)."""
    ticket = await service.get_ticket(database=database, ticket_id=ticket_id)
    if body.author == "customer":
        author = Author(
            kind=AuthorKind.CUSTOMER, email=ticket.requester.email, name=ticket.requester.name
        )
        if body.kind is not MessageKind.REPLY:
            raise InvalidTicket("kind", "a customer writes replies, not internal notes")
    else:
        author = Author(kind=AuthorKind.AGENT, id=caller.subject)
    message = NewMessage(
        kind=body.kind,
        author=author,
        body=body.body,
        attachments=_attachments(body.attachments),
        status=body.status,
    )
    _, stored = await flows.post_message(
        database=database,
        settings=settings,
        ticket_id=ticket_id,
        message=message,
        actor=caller.subject,
    )
    return MessageRead.of(stored, unmasked=True)


@router.get("/v1/tickets/{ticket_id}/messages", responses=NOT_FOUND)
async def list_messages(
    ticket_id: str, database: DatabaseDep, unmasked: PersonalDataDep
) -> MessageList:
    """The ticket's thread, oldest first (bodies and contacts withheld from roles without the
    personal-data right)."""
    messages = await thread.messages(database=database, ticket_id=ticket_id)
    return MessageList(messages=[MessageRead.of(m, unmasked=unmasked) for m in messages])


@router.get(
    "/v1/tickets/{ticket_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        404: {"description": "no such attachment"},
    },
)
async def download_attachment(
    ticket_id: str, attachment_id: str, database: DatabaseDep
) -> Response:
    """An attachment's bytes, with the content type it was checked against."""
    found = await repository.get_attachment(
        database=database, ticket_id=ticket_id, attachment_id=attachment_id
    )
    if found is None:
        raise AttachmentNotFound(attachment_id)
    return Response(
        found["content"],
        media_type="application/octet-stream",
        # Downloaded, never rendered: the type it was checked against is in the message.
        headers={"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"},
    )


@router.put("/v1/stores/{store_id}/ticket-fields/{key}")
async def define_field(
    store_id: Annotated[str, Path(min_length=1, max_length=200)],
    key: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$")],
    body: FieldDefinitionIn,
    database: DatabaseDep,
) -> FieldDefinitionRead:
    """Define (or redefine) a custom ticket field of a store; values already set stay."""
    if body.type is FieldType.DROPDOWN and not body.options:
        raise InvalidTicket("options", "a dropdown needs its options")
    definition = FieldDefinition(store_id=store_id, key=key, **body.model_dump())
    await repository.upsert_field_definition(database=database, definition=definition)
    return FieldDefinitionRead.model_validate(definition.model_dump())


@router.get("/v1/stores/{store_id}/ticket-fields")
async def list_fields(store_id: str, database: DatabaseDep) -> FieldDefinitionList:
    """The custom ticket fields a store defined."""
    found = await repository.field_definitions(database=database, store_id=store_id)
    return FieldDefinitionList(
        fields=[FieldDefinitionRead.model_validate(d.model_dump()) for d in found]
    )
