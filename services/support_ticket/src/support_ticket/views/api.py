import uuid

from crm_common.problems import NotFound
from fastapi import APIRouter, Response

from support_ticket.deps import Caller, DatabaseDep
from support_ticket.tickets.service import now
from support_ticket.views import repository
from support_ticket.views.models import View, ViewFilters
from support_ticket.views.schemas import ViewCreate, ViewList, ViewRead

router = APIRouter(prefix="/v1/views", tags=["views"])


@router.post("", status_code=201)
async def save_view(body: ViewCreate, database: DatabaseDep, caller: Caller) -> ViewRead:
    """Save a ticket list for the calling agent (`GET /v1/tickets?view_id=...` applies it)."""
    view = View(
        view_id=str(uuid.uuid4()),
        owner=caller.subject,
        name=body.name,
        filters=ViewFilters.model_validate(body.filters.model_dump()),
        created_at=now(),
    )
    await repository.insert(database=database, view=view)
    return ViewRead.model_validate(view, from_attributes=True)


@router.get("")
async def list_views(database: DatabaseDep, caller: Caller) -> ViewList:
    """The calling agent's saved views."""
    views = await repository.of_owner(database=database, owner=caller.subject)
    return ViewList(views=[ViewRead.model_validate(v, from_attributes=True) for v in views])


@router.delete(
    "/{view_id}", status_code=204, responses={404: {"description": "no such view of yours"}}
)
async def delete_view(view_id: str, database: DatabaseDep, caller: Caller) -> Response:
    """Delete one of the calling agent's views."""
    if not await repository.delete(database=database, owner=caller.subject, view_id=view_id):
        raise NotFound(f"view {view_id}")
    return Response(status_code=204)
