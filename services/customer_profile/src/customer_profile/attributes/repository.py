from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from customer_profile.attributes.models import AttributeMerge, CustomerAttributes, CustomerTag

_attributes = SQLModel.metadata.tables["customer_attributes"]
_tags = SQLModel.metadata.tables["customer_tags"]
_merges = SQLModel.metadata.tables["attribute_merges"]


async def get_attributes(*, session: AsyncSession, customer_id: str) -> CustomerAttributes | None:
    return await session.get(CustomerAttributes, customer_id)


async def attributes_of_many(
    *, session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, CustomerAttributes]:
    if not customer_ids:
        return {}
    rows = await session.execute(
        select(CustomerAttributes).where(_attributes.c.customer_id.in_(customer_ids))
    )
    return {row.customer_id: row for row in rows.scalars()}


def save_attributes(*, session: AsyncSession, attributes: CustomerAttributes) -> None:
    session.add(attributes)


async def tags_of(*, session: AsyncSession, customer_id: str) -> list[CustomerTag]:
    rows = await session.execute(
        select(CustomerTag).where(_tags.c.customer_id == customer_id).order_by(_tags.c.tag)
    )
    return list(rows.scalars())


async def tag_names_of_many(
    *, session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, list[str]]:
    """Each customer's tags, sorted."""
    found: dict[str, list[str]] = {customer_id: [] for customer_id in customer_ids}
    if customer_ids:
        rows = await session.execute(
            select(_tags.c.customer_id, _tags.c.tag)
            .where(_tags.c.customer_id.in_(customer_ids))
            .order_by(_tags.c.customer_id, _tags.c.tag)
        )
        for customer_id, tag in rows.all():
            found[customer_id].append(tag)
    return found


async def add_tags(
    *,
    session: AsyncSession,
    customer_id: str,
    tags: Collection[str],
    at: datetime,
    merge_id: str | None = None,
) -> None:
    """Give the customer `tags` (those it has already stay as they are)."""
    if not tags:
        return
    await session.execute(
        insert(_tags)
        .values(
            [
                {"tag": tag, "customer_id": customer_id, "added_at": at, "merge_id": merge_id}
                for tag in sorted(tags)
            ]
        )
        .on_conflict_do_nothing()
    )


async def remove_tags(*, session: AsyncSession, customer_id: str, tags: Collection[str]) -> None:
    if tags:
        await session.execute(
            delete(_tags).where(_tags.c.customer_id == customer_id, _tags.c.tag.in_(list(tags)))
        )


async def mark_explicit(*, session: AsyncSession, customer_id: str, tags: Collection[str]) -> None:
    """The tags were named explicitly: no undo of a merge takes them away any more."""
    if tags:
        await session.execute(
            update(_tags)
            .where(
                _tags.c.customer_id == customer_id,
                _tags.c.tag.in_(list(tags)),
                _tags.c.merge_id.is_not(None),
            )
            .values(merge_id=None)
        )


async def remove_merged_tags(*, session: AsyncSession, customer_id: str, merge_id: str) -> None:
    """The tags `merge_id` brought to the customer and that nobody set explicitly since."""
    await session.execute(
        delete(_tags).where(_tags.c.customer_id == customer_id, _tags.c.merge_id == merge_id)
    )


def add_merge(*, session: AsyncSession, merge: AttributeMerge) -> None:
    session.add(merge)


async def get_merge(*, session: AsyncSession, merge_id: str) -> AttributeMerge | None:
    return await session.get(AttributeMerge, merge_id)


async def delete_of(*, session: AsyncSession, customer_ids: Sequence[str]) -> None:
    """Every tag, trait and merge record of `customer_ids` (erasure)."""
    await session.execute(delete(_tags).where(_tags.c.customer_id.in_(customer_ids)))
    await session.execute(delete(_attributes).where(_attributes.c.customer_id.in_(customer_ids)))
    await session.execute(
        delete(_merges).where(
            or_(_merges.c.survivor_id.in_(customer_ids), _merges.c.merged_id.in_(customer_ids))
        )
    )
