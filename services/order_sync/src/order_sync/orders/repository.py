import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_common.idempotency import ProcessedEvent
from sqlalchemy import (
    String,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.orders.models import (
    Order,
    OrderLine,
    OrderPayment,
    OrderRefund,
    OrderRejection,
    OrderReturn,
    OrderShipment,
)
from order_sync.orders.schemas import OrderFilters

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


# --- Many orders in one statement each (orders/bulk.py, orders/batch.py) ------------------

_processed = ProcessedEvent.__table__  # type: ignore[attr-defined, unused-ignore]


async def claim_events(
    *, session: AsyncSession, consumer: str, event_ids: Collection[str]
) -> set[str]:
    """Record `event_ids` as applied by `consumer`; returns those it had not applied before."""
    if not event_ids:
        return set()
    ids = func.unnest(bindparam("ids", type_=ARRAY(String)))
    claimed = await session.execute(
        pg_insert(_processed)
        .from_select(
            ["consumer", "event_id", "processed_at"], select(literal(consumer), ids, func.now())
        )
        .on_conflict_do_nothing()
        .returning(_processed.c.event_id),
        {"ids": list(event_ids)},
    )
    return set(claimed.scalars())


async def release_events(
    *, session: AsyncSession, consumer: str, event_ids: Collection[str]
) -> None:
    """Forget claims made in this transaction for events that were not applied after all, so
    that a redelivery (once the cause is fixed) applies them."""
    if event_ids:
        await session.execute(
            delete(_processed).where(
                _processed.c.consumer == consumer, _processed.c.event_id.in_(list(event_ids))
            )
        )


async def advance_many(
    *, session: AsyncSession, changes: Sequence[tuple[str, datetime, dict[str, Any]]]
) -> None:
    """For each `(order_id, updated_at, body)`, move the order's `updated_at` and `body` only."""
    if not changes:
        return
    await session.execute(
        update(_orders)
        .where(_orders.c.order_id == bindparam("b_order_id"))
        .values(updated_at=bindparam("b_updated_at"), body=bindparam("b_body")),
        [
            {"b_order_id": order_id, "b_updated_at": updated_at, "b_body": body}
            for order_id, updated_at, body in changes
        ],
    )


# --- Rejections and listing (orders/bulk.py, orders/listing.py) ---------------------------

_rejections = OrderRejection.__table__  # type: ignore[attr-defined, unused-ignore]


async def insert_rejections(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(_rejections), list(rows))


async def list_orders(
    *,
    session: AsyncSession,
    filters: OrderFilters,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Order]:
    """Orders matching `filters`, newest first by (placed_at, order_id), after the keyset
    `after` when given."""
    c = _orders.c
    query = select(Order)
    if filters.store_id is not None:
        query = query.where(c.store_id == filters.store_id)
    if filters.customer_external_id is not None:
        query = query.where(c.customer_external_id == filters.customer_external_id)
    if filters.customer_email is not None:
        query = query.where(func.lower(c.customer_email) == func.lower(filters.customer_email))
    if filters.financial_status:
        query = query.where(c.financial_status.in_(filters.financial_status))
    if filters.fulfillment_status:
        query = query.where(c.fulfillment_status.in_(filters.fulfillment_status))
    if filters.cancelled is not None:
        query = query.where(
            c.cancelled_at.is_not(None) if filters.cancelled else c.cancelled_at.is_(None)
        )
    if filters.placed_from is not None:
        query = query.where(c.placed_at >= filters.placed_from)
    if filters.placed_to is not None:
        query = query.where(c.placed_at < filters.placed_to)
    if after is not None:
        query = query.where(tuple_(c.placed_at, c.order_id) < tuple_(*after))
    query = query.order_by(c.placed_at.desc(), c.order_id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


# --- Column dictionaries instead of ORM objects, for the batch API and imports (bulk.py) ----


@dataclass(frozen=True, slots=True)
class StoredRevision:
    """What deciding on an incoming revision needs of a stored order, short of its body."""

    order_id: str
    version: int
    updated_at: datetime
    created_at: datetime


async def lock_revisions(
    *, session: AsyncSession, order_ids: Sequence[str]
) -> dict[str, StoredRevision]:
    """The stored orders among `order_ids`, row-locked in id order (so that transactions
    locking overlapping sets cannot deadlock), without their bodies."""
    if not order_ids:
        return {}
    c = _orders.c
    rows = await session.execute(
        select(c.order_id, c.version, c.updated_at, c.created_at)
        .where(c.order_id == any_(_id_array(order_ids)))
        .order_by(c.order_id)
        .with_for_update()
    )
    return {row.order_id: StoredRevision(*row) for row in rows}


async def stored_bodies(
    *, session: AsyncSession, order_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The stored canonical order (`body`) of each of `order_ids`."""
    if not order_ids:
        return {}
    rows = await session.execute(
        select(_orders.c.order_id, _orders.c.body).where(
            _orders.c.order_id == any_(_id_array(order_ids))
        )
    )
    return {row.order_id: row.body for row in rows}


async def insert_order_rows(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert new orders; returns the ids inserted (an id missing was stored concurrently)."""
    if not rows:
        return set()
    names = list(rows[0])
    columns = ", ".join(names)
    inserted = await (await _driver(session)).fetch(
        f"INSERT INTO orders ({columns}) SELECT {columns} FROM {_unnest(_orders, names)}"
        " ON CONFLICT DO NOTHING RETURNING order_id",
        *_arrays(_orders, names, rows),
    )
    return {row["order_id"] for row in inserted}


async def replace_order_rows(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Overwrite stored orders with newer revisions (every column but the id and created_at)."""
    if not rows:
        return
    names = [name for name in rows[0] if name != "created_at"]
    assignments = ", ".join(f"{name} = n.{name}" for name in names if name != "order_id")
    await (await _driver(session)).execute(
        f"UPDATE orders SET {assignments} FROM {_unnest(_orders, names)}"
        " WHERE orders.order_id = n.order_id",
        *_arrays(_orders, names, rows),
    )


async def replace_line_rows(
    *, session: AsyncSession, order_ids: Sequence[str], lines: Sequence[dict[str, Any]]
) -> None:
    """Drop the stored lines of `order_ids` (orders being replaced) and insert `lines`."""
    if order_ids:
        await session.execute(delete(_lines).where(_lines.c.order_id == any_(_id_array(order_ids))))
    await _copy(session, _lines, lines)


_RECORD_TABLES: dict[str, Any] = {
    str(model.__tablename__): model.__table__  # type: ignore[union-attr, unused-ignore]
    for model in (OrderPayment, OrderRefund, OrderShipment, OrderReturn)
}


async def replace_record_rows(
    *,
    session: AsyncSession,
    order_ids: Sequence[str],
    rows: Mapping[str, Sequence[dict[str, Any]]],
) -> None:
    """Drop every payment, refund, shipment and return of `order_ids` (in one statement), then
    insert `rows` (by table name), one COPY per table that has any."""
    if order_ids:
        *first, last = _RECORD_TABLES
        deletes = ", ".join(
            f"d{n} AS (DELETE FROM {name} WHERE order_id = ANY($1::varchar[]))"
            for n, name in enumerate(first)
        )
        await (await _driver(session)).execute(
            f"WITH {deletes} DELETE FROM {last} WHERE order_id = ANY($1::varchar[])",
            list(order_ids),
        )
    for name, table_rows in rows.items():
        await _copy(session, _RECORD_TABLES[name], table_rows)


# Many rows go in one statement of one array per column (unnest) or by COPY: a multi-row VALUES
# needs a parameter per value, which PostgreSQL parses more slowly than it stores the rows.


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _unnest(table: Any, names: Sequence[str]) -> str:
    casts = ", ".join(
        f"${n}::{table.c[name].type.compile(dialect=_DIALECT)}[]"
        for n, name in enumerate(names, start=1)
    )
    return f"unnest({casts}) AS n({', '.join(names)})"


def _arrays(table: Any, names: Sequence[str], rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    return [_column(table, name, [row[name] for row in rows]) for name in names]


def _column(table: Any, name: str, values: list[Any]) -> list[Any]:
    # The session's asyncpg codec takes jsonb as JSON text, as SQLAlchemy would send it.
    if isinstance(table.c[name].type, JSONB):
        return [None if value is None else json.dumps(value) for value in values]
    return values


async def _copy(session: AsyncSession, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    names = list(rows[0])
    columns = [_column(table, name, [row[name] for row in rows]) for name in names]
    await (await _driver(session)).copy_records_to_table(
        table.name, records=list(zip(*columns, strict=True)), columns=names
    )


def _id_array(order_ids: Sequence[str]) -> Any:
    # One array parameter rather than one per id: the statement is the same for any count.
    return bindparam("ids", list(order_ids), type_=ARRAY(String()))
