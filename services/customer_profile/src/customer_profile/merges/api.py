from typing import Annotated

from crm_common.db import transaction
from fastapi import APIRouter, Body, Query, Response

from customer_profile.customers import service as customers
from customer_profile.customers.schemas import CustomerRead
from customer_profile.deps import Caller, PolicyDep, SessionsDep, SettingsDep
from customer_profile.merges import cursors, service, suggestions
from customer_profile.merges.schemas import (
    MergeCreate,
    MergeLogPage,
    MergeRead,
    SuggestionPage,
    SuggestionRead,
    UndoCreate,
)
from customer_profile.privacy.exceptions import ERASED

router = APIRouter(tags=["merges"])

Limit = Annotated[int, Query(ge=1, le=200)]


@router.post(
    "/v1/customers/{customer_id}:merge",
    status_code=201,
    responses={
        201: {
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        },
        404: {"description": "either customer does not exist (`errors` names which)"},
        409: {"description": "either customer is already merged into another"},
        **ERASED,
    },
)
async def merge_customers(
    customer_id: str,
    body: MergeCreate,
    response: Response,
    sessions: SessionsDep,
    settings: SettingsDep,
    policy: PolicyDep,
    principal: Caller,
) -> MergeRead:
    """Merge `merge_with` into this customer, which survives; accepts any suggestion between
    the two."""
    async with transaction(sessions) as session:
        outcome = await service.merge_manually(
            session=session,
            survivor_id=customer_id,
            merged_id=body.merge_with,
            actor=principal.subject,
            customers_topic=settings.customers_topic,
            note=body.note,
            participants=policy.participants,
        )
    response.headers["Location"] = f"/v1/merges/{outcome.entry.merge_id}"
    return MergeRead.of(outcome.entry)


@router.post(
    "/v1/merges/{merge_id}:undo",
    responses={
        404: {"description": "no merge by that id"},
        409: {
            "description": "undone already, later merges of either customer are in effect "
            "(`errors[0].blocking_merge_ids`), or a customer of the merge is gone"
        },
        **ERASED,
    },
)
async def undo_merge(
    merge_id: str,
    sessions: SessionsDep,
    settings: SettingsDep,
    policy: PolicyDep,
    principal: Caller,
    body: Annotated[UndoCreate | None, Body()] = None,
) -> MergeRead:
    """Undo a merge: both customers as they would be without it; 409 while later merges of
    either customer are in effect (undo those first)."""
    async with transaction(sessions) as session:
        outcome = await service.undo_merge(
            session=session,
            merge_id=merge_id,
            actor=principal.subject,
            customers_topic=settings.customers_topic,
            note=body.note if body is not None else None,
            participants=policy.participants,
        )
    return MergeRead.of(outcome.entry)


@router.get("/v1/merges")
async def list_merges(
    sessions: SessionsDep,
    customer_id: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> MergeLogPage:
    """The merge log, oldest entry first: every merge and undo (of one customer, if given)."""
    after = cursors.log_position(cursor)
    async with sessions() as session:
        entries, undone = await service.log_page(
            session=session, customer_id=customer_id, after_seq=after, limit=limit
        )
    items = [MergeRead.of(e, undone_by=undone.get(e.merge_id)) for e in entries]
    last = entries[-1].seq if len(entries) == limit else None
    return MergeLogPage(items=items, next_cursor=cursors.encode([last]) if last else None)


@router.get("/v1/merges/{merge_id}", responses={404: {"description": "no merge by that id"}})
async def read_merge(merge_id: str, sessions: SessionsDep) -> MergeRead:
    """One merge's log entry, with the id of its undo if it was undone."""
    async with sessions() as session:
        entry = await service.merge_entry(session=session, merge_id=merge_id)
        undone_by = await service.undone_by(session=session, merge_id=merge_id)
    return MergeRead.of(entry, undone_by=undone_by)


@router.get("/v1/merge-suggestions")
async def list_suggestions(
    sessions: SessionsDep,
    status: Annotated[str | None, Query(pattern="^(open|dismissed|merged)$")] = "open",
    customer_id: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> SuggestionPage:
    """Pairs of customers sharing an identifier too widely shared to merge them automatically;
    open ones by default, oldest first."""
    after = cursors.suggestion_position(cursor)
    async with sessions() as session:
        page = await suggestions.suggestion_page(
            session=session, status=status, customer_id=customer_id, after=after, limit=limit
        )
        items = []
        for suggestion in page:
            views = [
                view
                for member in (suggestion.survivor_id, suggestion.merged_id)
                if (view := await customers.get_customer(session=session, customer_id=member))
            ]
            found = [CustomerRead.of(view.customer, view.identities) for view in views]
            items.append(SuggestionRead.of(suggestion, found))
    last = page[-1] if len(page) == limit else None
    next_cursor = (
        cursors.encode([last.created_at.isoformat(), last.suggestion_id]) if last else None
    )
    return SuggestionPage(items=items, next_cursor=next_cursor)


@router.post(
    "/v1/merge-suggestions/{suggestion_id}:dismiss",
    responses={
        404: {"description": "no suggestion by that id"},
        409: {"description": "the suggestion is no longer open"},
    },
)
async def dismiss_suggestion(
    suggestion_id: str, sessions: SessionsDep, principal: Caller
) -> SuggestionRead:
    """Close an open suggestion without merging; the pair is not suggested again."""
    async with transaction(sessions) as session:
        suggestion = await suggestions.dismiss(
            session=session, suggestion_id=suggestion_id, actor=principal.subject
        )
    return SuggestionRead.of(suggestion, [])
