from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.orders.models import Order, OrderLine

_orders = Order.__table__  # type: ignore[attr-defined, unused-ignore]
_lines = OrderLine.__table__  # type: ignore[attr-defined, unused-ignore]


async def get(*, session: AsyncSession, order_id: str) -> Order | None:
    return await session.get(Order, order_id)


async def lock(*, session: AsyncSession, order_id: str) -> Order | None:
    """The order, row-locked until the transaction ends, so changes to it apply one at a time."""
    result = await session.execute(
        select(Order).where(_orders.c.order_id == order_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def insert_new(*, session: AsyncSession, order: Order, lines: list[OrderLine]) -> bool:
    """Insert a new order and its lines; False when it already exists (a concurrent insert)."""
    inserted = await session.execute(
        pg_insert(_orders)
        .values(order.model_dump())
        # No conflict target: a concurrent insert may collide on the primary key or on
        # (store_id, external_id) first, and either means the order already exists.
        .on_conflict_do_nothing()
        .returning(_orders.c.order_id)
    )
    if inserted.first() is None:
        return False
    await _insert_lines(session=session, lines=lines)
    return True


async def replace(*, session: AsyncSession, order: Order, lines: list[OrderLine]) -> None:
    """Overwrite the stored revision of `order` and its lines."""
    values = order.model_dump(exclude={"order_id", "created_at"})
    await session.execute(
        update(_orders).where(_orders.c.order_id == order.order_id).values(values)
    )
    await session.execute(delete(_lines).where(_lines.c.order_id == order.order_id))
    await _insert_lines(session=session, lines=lines)


async def advance_updated_at(
    *, session: AsyncSession, order_id: str, updated_at: datetime, body: dict[str, object]
) -> None:
    await session.execute(
        update(_orders)
        .where(_orders.c.order_id == order_id)
        .values(updated_at=updated_at, body=body)
    )


async def list_lines(*, session: AsyncSession, order_id: str) -> list[OrderLine]:
    result = await session.execute(
        select(OrderLine).where(_lines.c.order_id == order_id).order_by(_lines.c.position)
    )
    return list(result.scalars())


async def _insert_lines(*, session: AsyncSession, lines: list[OrderLine]) -> None:
    if lines:
        await session.execute(insert(_lines), [line.model_dump() for line in lines])
