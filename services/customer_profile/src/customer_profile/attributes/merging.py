"""Tags and traits follow merges (see customers/participants.py): the union of the tags, and each
trait key from the customer whose traits changed most recently. The merged customer keeps its
own rows, so an undo only takes back from the survivor what the merge gave it."""

from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.attributes import repository, rules
from customer_profile.attributes.models import AttributeMerge, CustomerAttributes
from customer_profile.customers.models import Customer


async def merge_attributes(
    *, session: AsyncSession, survivor_id: str, merged_id: str, merge_id: str, now: datetime
) -> None:
    """Give the survivor the merged customer's tags it lacks (marked with `merge_id`) and its
    traits by survivorship, remembering what changed for the undo."""
    ours = {row.tag for row in await repository.tags_of(session=session, customer_id=survivor_id)}
    theirs = {row.tag for row in await repository.tags_of(session=session, customer_id=merged_id)}
    await repository.add_tags(
        session=session, customer_id=survivor_id, tags=theirs - ours, at=now, merge_id=merge_id
    )
    given = await repository.get_attributes(session=session, customer_id=merged_id)
    if given is None or not given.traits:
        return
    kept = await repository.get_attributes(session=session, customer_id=survivor_id)
    merged = rules.merge_traits(
        kept.traits if kept is not None else {},
        kept.traits_updated_at if kept is not None else None,
        given.traits,
        given.traits_updated_at,
    )
    if not merged.changes:
        return
    row = kept or CustomerAttributes(customer_id=survivor_id, traits={}, updated_at=now)
    repository.add_merge(
        session=session,
        merge=AttributeMerge(
            merge_id=merge_id,
            survivor_id=survivor_id,
            merged_id=merged_id,
            changes={
                "traits": merged.changes,
                "traits_updated_at": {
                    "before": _iso(row.traits_updated_at),
                    "after": _iso(merged.updated_at),
                },
            },
        ),
    )
    row.traits = merged.traits
    row.traits_updated_at = merged.updated_at
    row.updated_at = now
    repository.save_attributes(session=session, attributes=row)


async def unmerge_attributes(
    *, session: AsyncSession, survivor_id: str, merge_id: str, now: datetime
) -> None:
    """Take back from the survivor the tags `merge_id` brought (unless set explicitly since) and
    the trait values it set (unless changed since)."""
    await repository.remove_merged_tags(session=session, customer_id=survivor_id, merge_id=merge_id)
    record = await repository.get_merge(session=session, merge_id=merge_id)
    row = await repository.get_attributes(session=session, customer_id=survivor_id)
    if record is None or row is None:
        return
    traits = rules.unmerge_traits(row.traits, record.changes["traits"])
    times = record.changes["traits_updated_at"]
    if _iso(row.traits_updated_at) == times["after"]:
        before = times["before"]
        row.traits_updated_at = datetime.fromisoformat(before) if before else None
    row.traits = traits
    row.updated_at = now
    repository.save_attributes(session=session, attributes=row)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class AttributesFollowMerges:
    """A `MergeParticipant` (see `customers.participants`)."""

    async def merged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,
        now: datetime,
    ) -> list[CloudEvent[Any]]:
        await merge_attributes(
            session=session,
            survivor_id=survivor.customer_id,
            merged_id=merged.customer_id,
            merge_id=merge_id,
            now=now,
        )
        return []

    async def unmerged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,  # noqa: ARG002  (the protocol's signature)
        merge_id: str,
        now: datetime,
    ) -> list[CloudEvent[Any]]:
        await unmerge_attributes(
            session=session, survivor_id=survivor.customer_id, merge_id=merge_id, now=now
        )
        return []
