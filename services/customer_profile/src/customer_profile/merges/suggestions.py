"""Merge suggestions: two customers joined only by an identity too widely shared to trust.

A suggestion is accepted by merging the two customers (`POST /v1/customers/{id}:merge`, which
marks it `merged`) or dismissed; either way the same pair and identity are never suggested again.
Undoing the merge that accepted it opens it again.
"""

from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers import repository as customers
from customer_profile.customers.identities import IdentityKey, digest
from customer_profile.merges import repository
from customer_profile.merges.exceptions import MergeConflict, MergeNotFound
from customer_profile.merges.models import MergeSuggestion
from customer_profile.merges.rules import survivor_first

STATUSES = (repository.OPEN, repository.DISMISSED, repository.MERGED)


async def suggest(
    *, session: AsyncSession, customer_ids: tuple[str, str], identity: IdentityKey, now: datetime
) -> None:
    """Suggest merging the two customers that share `identity` (the older would survive)."""
    found = [
        customer
        for customer_id in customer_ids
        if (customer := await customers.get_customer(session=session, customer_id=customer_id))
    ]
    if len(found) != 2 or found[0].customer_id == found[1].customer_id:
        return
    survivor, merged = survivor_first(found)
    suggestion = MergeSuggestion(
        suggestion_id=str(uuid4()),
        survivor_id=survivor.customer_id,
        merged_id=merged.customer_id,
        identity_kind=identity.kind.value,
        identity_store_id=identity.store_id,
        identity_value=identity.value,
        identity_digest=digest(identity),
        status=repository.OPEN,
        created_at=now,
    )
    await repository.add_suggestion(session=session, suggestion=suggestion)


async def dismiss(
    *, session: AsyncSession, suggestion_id: str, actor: str, now: datetime | None = None
) -> MergeSuggestion:
    """Close an open suggestion without merging; it will not come back."""
    suggestion = await repository.get_suggestion(
        session=session, suggestion_id=suggestion_id, lock=True
    )
    if suggestion is None:
        raise MergeNotFound(f"merge suggestion {suggestion_id}", "path.suggestion_id")
    if suggestion.status != repository.OPEN:
        raise MergeConflict(
            f"merge suggestion {suggestion_id} is {suggestion.status}, not open",
            "path.suggestion_id",
            status=suggestion.status,
        )
    suggestion.status = repository.DISMISSED
    suggestion.resolved_at = now or datetime.now(UTC)
    suggestion.resolved_by = actor
    return suggestion


async def suggestion_page(
    *,
    session: AsyncSession,
    status: str | None,
    customer_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[MergeSuggestion]:
    """Suggestions oldest first, after the (created_at, suggestion_id) of the previous page."""
    return await repository.suggestion_page(
        session=session, status=status, customer_id=customer_id, after=after, limit=limit
    )
