from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.db import transaction
from crm_common.problems import NotFound
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from campaign.deps import SessionsDep
from campaign.segments import service
from campaign.segments.definition import KINDS
from campaign.segments.schemas import (
    ConditionVerdict,
    MembershipExplanation,
    SegmentCreate,
    SegmentPreview,
    SegmentPreviewRequest,
    SegmentRead,
    SegmentUpdate,
)


class _DefinitionRoute(APIRoute):
    """Errors in a definition name the path into the JSON sent: pydantic puts each condition's
    `kind` into the location (`definition.and.conditions.0.event.in_last`), we take it out
    (`definition.conditions.0.in_last`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                raise RequestValidationError(
                    [{**e, "loc": _without_kinds(e.get("loc", ()))} for e in error.errors()]
                ) from None

        return route


def _without_kinds(location: Sequence[Any]) -> tuple[Any, ...]:
    kept: list[Any] = []
    for part in location:
        after_condition = bool(kept) and (
            kept[-1] in ("definition", "condition") or isinstance(kept[-1], int)
        )
        if not (after_condition and part in KINDS):
            kept.append(part)
    return tuple(kept)


router = APIRouter(prefix="/v1/segments", tags=["segments"], route_class=_DefinitionRoute)
_UNKNOWN: dict[int | str, dict[str, Any]] = {404: {"description": "no segment by that id"}}
_BAD_REFERENCE: dict[int | str, dict[str, Any]] = {
    422: {"description": "the definition is invalid, or names segments it cannot"}
}


@router.post("", status_code=201, responses=_BAD_REFERENCE)
async def create_segment(body: SegmentCreate, sessions: SessionsDep) -> SegmentRead:
    """Save a segment; its members are computed from stored state (`status: building`), then
    follow events and time."""
    async with transaction(sessions) as session:
        row = await service.create_segment(
            session=session, name=body.name, definition=body.definition, now=datetime.now(UTC)
        )
    return SegmentRead.of(row, 0)


@router.get("")
async def list_segments(sessions: SessionsDep) -> list[SegmentRead]:
    """Every segment, with its member count."""
    async with sessions() as session:
        rows = await service.list_segments(session=session)
        counts = await service.member_counts(session=session, ids=[r.segment_id for r in rows])
    return [SegmentRead.of(row, counts.get(row.segment_id, 0)) for row in rows]


@router.post(":preview", responses=_BAD_REFERENCE)
async def preview_segment(body: SegmentPreviewRequest, sessions: SessionsDep) -> SegmentPreview:
    """Count and sample the customers a definition holds for now, without saving it."""
    async with sessions() as session:
        found = await service.preview(
            session=session, definition=body.definition, now=datetime.now(UTC)
        )
    return SegmentPreview(evaluated=found.evaluated, matching=found.matching, sample=found.sample)


@router.get("/{segment_id}", responses=_UNKNOWN)
async def read_segment(segment_id: str, sessions: SessionsDep) -> SegmentRead:
    """One segment, with its member count."""
    async with sessions() as session:
        row = await service.get_segment(session=session, segment_id=segment_id)
        if row is None:
            raise NotFound(f"segment {segment_id}")
        counts = await service.member_counts(session=session, ids=[segment_id])
    return SegmentRead.of(row, counts.get(segment_id, 0))


@router.patch("/{segment_id}", responses={**_UNKNOWN, **_BAD_REFERENCE})
async def update_segment(
    segment_id: str, body: SegmentUpdate, sessions: SessionsDep
) -> SegmentRead:
    """Rename a segment or change its definition (its members are then computed again)."""
    async with transaction(sessions) as session:
        row = await service.update_segment(
            session=session,
            segment_id=segment_id,
            name=body.name,
            definition=body.definition,
            now=datetime.now(UTC),
        )
        if row is None:
            raise NotFound(f"segment {segment_id}")
        counts = await service.member_counts(session=session, ids=[segment_id])
    return SegmentRead.of(row, counts.get(segment_id, 0))


@router.delete("/{segment_id}", status_code=204, responses=_UNKNOWN)
async def delete_segment(segment_id: str, sessions: SessionsDep) -> None:
    """Delete a segment: its members exit (each announced), then it is gone."""
    async with transaction(sessions) as session:
        deleted = await service.delete_segment(
            session=session, segment_id=segment_id, now=datetime.now(UTC)
        )
    if not deleted:
        raise NotFound(f"segment {segment_id}")


@router.get("/{segment_id}/members/{customer_id}", responses=_UNKNOWN)
async def explain_membership(
    segment_id: str, customer_id: str, sessions: SessionsDep
) -> MembershipExplanation:
    """Whether a customer belongs to a segment, and which of its conditions hold for them."""
    async with sessions() as session:
        found = await service.explain(
            session=session, segment_id=segment_id, customer_id=customer_id, now=datetime.now(UTC)
        )
    if found is None:
        raise NotFound(f"segment {segment_id}")
    return MembershipExplanation(
        segment_id=segment_id,
        customer_id=found.customer_id,
        member=found.member,
        holds=found.verdict.holds,
        explanation=ConditionVerdict.of(found.verdict),
    )
