from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import String, and_, any_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.inventory.models import StockLevel, StockMovement
from order_sync.inventory.rules import Lines, Movement, MovementKind

_levels = StockLevel.__table__  # type: ignore[attr-defined, unused-ignore]
_movements = StockMovement.__table__  # type: ignore[attr-defined, unused-ignore]


async def get(*, session: AsyncSession, store_id: str, sku: str) -> StockLevel | None:
    return await session.get(StockLevel, (store_id, sku))


async def lock(*, session: AsyncSession, store_id: str, sku: str) -> StockLevel | None:
    """The level, row-locked until the transaction ends (detached: `save_many` writes it)."""
    levels = await lock_many(session=session, keys=[(store_id, sku)])
    return levels.get((store_id, sku))


async def insert_new(*, session: AsyncSession, level: StockLevel) -> bool:
    """Insert a new level; False when it exists already (also when a concurrent insert won)."""
    inserted = await session.execute(
        insert(_levels)
        .values(level.model_dump())
        .on_conflict_do_nothing(index_elements=[_levels.c.store_id, _levels.c.sku])
        .returning(_levels.c.sku)
    )
    return inserted.first() is not None


async def lock_many(
    *, session: AsyncSession, keys: Collection[tuple[str, str]]
) -> dict[tuple[str, str], StockLevel]:
    """The existing levels among (store_id, sku) `keys`, row-locked in key order (every
    transaction locks in the same order, so two of them never wait for each other). They come
    back detached from the session: changing one writes nothing until `save_many`."""
    if not keys:
        return {}
    skus: dict[str, list[str]] = {}
    for store_id, sku in sorted(keys):
        skus.setdefault(store_id, []).append(sku)
    # One array parameter per store (a batch rarely spans more than one): a tuple IN list of
    # hundreds of keys costs SQLAlchemy more to compile than PostgreSQL to run.
    matches = [
        and_(_levels.c.store_id == store_id, _levels.c.sku == any_(_array(f"skus_{n}", names)))
        for n, (store_id, names) in enumerate(skus.items())
    ]
    result = await session.execute(
        select(_levels)
        .where(or_(*matches))
        .order_by(_levels.c.store_id, _levels.c.sku)
        .with_for_update()
    )
    levels = [StockLevel(**row._mapping) for row in result]
    return {(level.store_id, level.sku): level for level in levels}


async def save_many(*, session: AsyncSession, levels: Sequence[StockLevel]) -> None:
    """Write the quantity, threshold and version of existing levels."""
    if not levels:
        return
    await session.execute(
        update(StockLevel),
        [
            {
                "store_id": level.store_id,
                "sku": level.sku,
                "quantity": level.quantity,
                "low_stock_threshold": level.low_stock_threshold,
                "version": level.version,
                "updated_at": level.updated_at,
            }
            for level in levels
        ],
    )


async def list_levels(
    *, session: AsyncSession, store_id: str, after: str | None, limit: int
) -> list[StockLevel]:
    """A store's levels by SKU, starting after the SKU `after`."""
    query = select(StockLevel).where(_levels.c.store_id == store_id)
    if after is not None:
        query = query.where(_levels.c.sku > after)
    result = await session.execute(query.order_by(_levels.c.sku).limit(limit))
    return list(result.scalars())


async def movements(
    *, session: AsyncSession, order_ids: Collection[str]
) -> dict[str, dict[Movement, Lines]]:
    """The movements recorded for `order_ids`: order id -> (kind, ref) -> lines applied."""
    if not order_ids:
        return {}
    c = _movements.c
    result = await session.execute(
        select(c.order_id, c.kind, c.ref, c.lines).where(
            c.order_id == any_(_array("order_ids", list(order_ids)))
        )
    )
    recorded: dict[str, dict[Movement, Lines]] = {}
    for row in result:
        lines = tuple((str(sku), int(quantity)) for sku, quantity in row.lines)
        recorded.setdefault(row.order_id, {})[(MovementKind(row.kind), row.ref)] = lines
    return recorded


async def insert_movements(*, session: AsyncSession, movements: Sequence[dict[str, Any]]) -> None:
    """Record `stock_movements` rows (as dicts: building model instances costs more than the
    insert when a batch pays hundreds of orders)."""
    if not movements:
        return
    # No ON CONFLICT: the caller holds the order's row lock, so a clash means a movement would
    # be applied twice, and failing the transaction is the right answer.
    await session.execute(insert(_movements), list(movements))


def _array(name: str, values: list[str]) -> Any:
    return bindparam(name, values, type_=ARRAY(String()))
