from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, column, delete, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import DateTime, Integer, String
from sqlmodel import SQLModel

from customer_profile.addresses.models import OrderAddress

_REGISTERED = OrderAddress
_addresses = SQLModel.metadata.tables["order_addresses"]
_orders = SQLModel.metadata.tables["customer_orders"]

# One row per place (fingerprint) over the customer's orders: its kinds, when it was first and
# last seen, on how many orders, and its newest form (the one ciphertext decrypted).
_OF_CUSTOMER = text(
    """
    SELECT a.fingerprint,
           array_agg(DISTINCT a.kind ORDER BY a.kind) AS kinds,
           min(o.placed_at) AS first_seen_at,
           max(o.placed_at) AS last_seen_at,
           count(DISTINCT o.order_id) AS orders,
           (array_agg(a.address ORDER BY o.placed_at DESC, o.order_id DESC, a.kind DESC))[1]
               AS address
    FROM customer_orders o
    JOIN order_addresses a ON a.order_id = o.order_id
    WHERE o.customer_id = :customer_id
    GROUP BY a.fingerprint
    ORDER BY max(o.placed_at) DESC, a.fingerprint
    """
).columns(
    column("fingerprint", String),
    column("kinds", ARRAY(String)),
    column("first_seen_at", DateTime(timezone=True)),
    column("last_seen_at", DateTime(timezone=True)),
    column("orders", Integer),
    # Typed as the column, so that the newest form decrypts like a row of the table.
    column("address", _addresses.c.address.type),
)


async def save_order_addresses(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace the (order_id, kind) rows."""
    if not rows:
        return
    # The order row the addresses reference may still be pending in the session.
    await session.flush()
    statement = insert(_addresses).values(list(rows))
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[_addresses.c.order_id, _addresses.c.kind],
            set_={
                "fingerprint": statement.excluded.fingerprint,
                "address": statement.excluded.address,
            },
        )
    )


async def delete_order_addresses(
    *, session: AsyncSession, order_id: str, kinds: Sequence[str]
) -> None:
    if kinds:
        await session.execute(
            delete(_addresses).where(
                _addresses.c.order_id == order_id, _addresses.c.kind.in_(list(kinds))
            )
        )


async def kinds_of(*, session: AsyncSession, order_ids: Sequence[str]) -> dict[str, set[str]]:
    """The kinds of address stored for each of `order_ids` (an empty set: none)."""
    found: dict[str, set[str]] = {order_id: set() for order_id in order_ids}
    if order_ids:
        rows = await session.execute(
            select(_addresses.c.order_id, _addresses.c.kind).where(
                _addresses.c.order_id.in_(list(order_ids))
            )
        )
        for order_id, kind in rows:
            found[order_id].add(kind)
    return found


async def of_customer(*, session: AsyncSession, customer_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(_OF_CUSTOMER, {"customer_id": customer_id})
    return [dict(row) for row in rows.mappings()]


async def delete_of(*, session: AsyncSession, customer_ids: Sequence[str]) -> None:
    """The addresses of every order of `customer_ids` (erasure; the orders stay)."""
    orders = select(_orders.c.order_id).where(
        _orders.c.customer_id.in_(bindparam("ids", expanding=True))
    )
    await session.execute(
        delete(_addresses).where(_addresses.c.order_id.in_(orders)), {"ids": list(customer_ids)}
    )
