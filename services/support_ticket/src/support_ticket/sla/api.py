from typing import Annotated, Any

from fastapi import APIRouter, Path

from support_ticket.deps import DatabaseDep
from support_ticket.sla import service
from support_ticket.sla.calendar import CalendarDefinition
from support_ticket.sla.models import StoredCalendar, StoredPolicies
from support_ticket.sla.policies import PolicySet
from support_ticket.sla.schemas import CalendarRead, PolicySetRead

router = APIRouter(tags=["sla"])
CalendarId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,200}$")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such calendar"}}


def _calendar(stored: StoredCalendar) -> CalendarRead:
    return CalendarRead(
        **stored.definition.model_dump(),
        calendar_id=stored.calendar_id,
        updated_at=stored.updated_at,
    )


def _policies(stored: StoredPolicies) -> PolicySetRead:
    return PolicySetRead(
        **stored.policies.model_dump(), revision=stored.revision, updated_at=stored.updated_at
    )


@router.put("/v1/sla/calendars/{calendar_id}")
async def put_calendar(
    calendar_id: CalendarId, body: CalendarDefinition, database: DatabaseDep
) -> CalendarRead:
    """Define (or redefine) a business calendar: opening hours in a time zone, holidays. The
    open tickets whose policy counts on it are computed again."""
    stored = await service.put_calendar(database=database, calendar_id=calendar_id, definition=body)
    return _calendar(stored)


@router.get("/v1/sla/calendars/{calendar_id}", responses=NOT_FOUND)
async def get_calendar(calendar_id: CalendarId, database: DatabaseDep) -> CalendarRead:
    """A business calendar."""
    return _calendar(await service.get_calendar(database=database, calendar_id=calendar_id))


@router.put("/v1/sla/policies")
async def put_policies(body: PolicySet, database: DatabaseDep) -> PolicySetRead:
    """Replace the SLA policies: tried in order, the first whose conditions hold applies, else
    the default. Each names a calendar defined before. The open tickets are computed again."""
    return _policies(await service.put_policies(database=database, policies=body))


@router.get("/v1/sla/policies")
async def get_policies(database: DatabaseDep) -> PolicySetRead:
    """The SLA policies in the order they are tried, and the default."""
    return _policies(await service.get_policies(database=database))
