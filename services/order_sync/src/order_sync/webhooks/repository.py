from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.webhooks.models import CLAIMING, RECEIVED, WebhookDelivery

_table = WebhookDelivery.__table__  # type: ignore[attr-defined, unused-ignore]


async def add(*, session: AsyncSession, delivery: WebhookDelivery) -> int:
    """Store `delivery`; returns its id."""
    inserted = await session.execute(
        pg_insert(_table).values(delivery.model_dump(exclude={"id"})).returning(_table.c.id)
    )
    return int(inserted.scalar_one())


async def insert_claiming(*, session: AsyncSession, delivery: WebhookDelivery) -> int | None:
    """Store `delivery` holding its de-duplication key; None when another delivery holds it.

    A concurrent delivery with the same key waits here until the first one's transaction ends,
    then finds the key taken (or free again, if that transaction rolled back).
    """
    inserted = await session.execute(
        pg_insert(_table)
        .values(delivery.model_dump(exclude={"id"}))
        .on_conflict_do_nothing(
            index_elements=[_table.c.platform, _table.c.store_id, _table.c.dedup_key],
            index_where=CLAIMING,
        )
        .returning(_table.c.id)
    )
    found = inserted.scalar_one_or_none()
    return int(found) if found is not None else None


async def set_outcome(
    *,
    session: AsyncSession,
    delivery_id: int,
    outcome: str,
    detail: str | None,
    order_id: str | None,
) -> None:
    await session.execute(
        update(_table)
        .where(_table.c.id == delivery_id)
        .values(outcome=outcome, detail=detail, order_id=order_id)
    )


async def lock_received(*, session: AsyncSession, limit: int) -> Sequence[WebhookDelivery]:
    """Up to `limit` deliveries still to apply, oldest first, locked until the transaction
    ends; those another transaction holds are skipped (another replica is applying them)."""
    found = await session.execute(
        select(WebhookDelivery)
        .where(RECEIVED)
        .order_by(_table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return found.scalars().all()
