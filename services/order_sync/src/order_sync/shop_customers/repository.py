from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.shop_customers.models import ShopCustomerRevision

_revisions = ShopCustomerRevision.__table__  # type: ignore[attr-defined, unused-ignore]


async def lock_revision(
    *, session: AsyncSession, store_id: str, external_id: str
) -> ShopCustomerRevision | None:
    """The account's last announced revision, row-locked until the transaction ends."""
    row = (
        await session.execute(
            select(_revisions)
            .where(_revisions.c.store_id == store_id, _revisions.c.external_id == external_id)
            .with_for_update()
        )
    ).first()
    return ShopCustomerRevision(**row._mapping) if row is not None else None


async def insert_revision(*, session: AsyncSession, revision: ShopCustomerRevision) -> bool:
    """Insert the first revision; False when one exists already (a concurrent insert won)."""
    inserted = await session.execute(
        insert(_revisions)
        .values(revision.model_dump())
        .on_conflict_do_nothing()
        .returning(_revisions.c.store_id)
    )
    return inserted.first() is not None


async def replace_revision(*, session: AsyncSession, revision: ShopCustomerRevision) -> None:
    values = revision.model_dump(exclude={"store_id", "external_id"})
    await session.execute(
        update(_revisions)
        .where(
            _revisions.c.store_id == revision.store_id,
            _revisions.c.external_id == revision.external_id,
        )
        .values(values)
    )
