from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.stores.models import Store

_table = Store.__table__  # type: ignore[attr-defined, unused-ignore]


async def get(*, session: AsyncSession, store_id: str) -> Store | None:
    return await session.get(Store, store_id)


async def insert_new(*, session: AsyncSession, store: Store) -> bool:
    """Insert `store`; False when its id is taken (also when a concurrent insert won)."""
    inserted = await session.execute(
        insert(_table)
        .values(store.model_dump())
        .on_conflict_do_nothing(index_elements=[_table.c.store_id])
        .returning(_table.c.store_id)
    )
    return inserted.first() is not None
