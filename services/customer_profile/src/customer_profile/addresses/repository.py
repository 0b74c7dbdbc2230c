from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, column, delete, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import DateTime, Integer, String
from sqlmodel import SQLModel

from customer_profile.addresses.models import AccountAddress, AccountAddressMove, OrderAddress
from customer_profile.contacts.models import ShopAccount
from customer_profile.customers.models import CustomerOrder

# The tables these queries name or reference, registered whatever imported this module first.
_REGISTERED = (OrderAddress, AccountAddress, AccountAddressMove, ShopAccount, CustomerOrder)
_addresses = SQLModel.metadata.tables["order_addresses"]
_account_addresses = SQLModel.metadata.tables["account_addresses"]
_moves = SQLModel.metadata.tables["account_address_moves"]
_orders = SQLModel.metadata.tables["customer_orders"]

# One row per place (fingerprint) over the customer's orders and shop accounts: its kinds, when
# it was first and last seen, on how many orders, where an account lists it, and its newest form.
# Each source's ciphertext is bound to its own column, so the newest form comes back in the
# column of its source (the other null): the one ciphertext decrypted.
_OF_CUSTOMER = text(
    """
    WITH seen AS (
        SELECT a.fingerprint, a.kind, o.order_id, o.placed_at AS first_at,
               o.placed_at AS last_at, NULL::integer AS position,
               a.address AS order_form, NULL::bytea AS account_form
        FROM customer_orders o
        JOIN order_addresses a ON a.order_id = o.order_id
        WHERE o.customer_id = :customer_id
        UNION ALL
        SELECT fingerprint, 'account', NULL, first_seen_at, last_seen_at, position,
               NULL, address
        FROM account_addresses
        WHERE customer_id = :customer_id
    ), places AS (
        SELECT fingerprint,
               array_agg(DISTINCT kind ORDER BY kind) AS kinds,
               min(first_at) AS first_seen_at,
               max(last_at) AS last_seen_at,
               count(DISTINCT order_id) AS orders,
               min(position) AS position,
               max(last_at) FILTER (WHERE order_id IS NOT NULL) AS ordered_at,
               max(last_at) FILTER (WHERE order_id IS NULL) AS listed_at,
               (array_agg(order_form ORDER BY last_at DESC, order_id DESC, kind DESC)
                   FILTER (WHERE order_id IS NOT NULL))[1] AS order_form,
               (array_agg(account_form ORDER BY last_at DESC, position)
                   FILTER (WHERE order_id IS NULL))[1] AS account_form
        FROM seen
        GROUP BY fingerprint
    )
    SELECT fingerprint, kinds, first_seen_at, last_seen_at, orders,
           CASE WHEN listed_at IS NULL OR ordered_at >= listed_at THEN order_form END
               AS order_address,
           CASE WHEN ordered_at IS NULL OR listed_at > ordered_at THEN account_form END
               AS account_address
    FROM places
    ORDER BY last_seen_at DESC, position NULLS LAST, fingerprint
    """
).columns(
    column("fingerprint", String),
    column("kinds", ARRAY(String)),
    column("first_seen_at", DateTime(timezone=True)),
    column("last_seen_at", DateTime(timezone=True)),
    column("orders", Integer),
    # Typed as the columns, so that the newest form decrypts like a row of its table.
    column("order_address", _addresses.c.address.type),
    column("account_address", _account_addresses.c.address.type),
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
    """The addresses of every order and shop account of `customer_ids` (erasure; the orders
    stay), and the merge moves of those accounts."""
    accounts = select(_account_addresses.c.account_digest).where(
        _account_addresses.c.customer_id.in_(bindparam("ids", expanding=True))
    )
    await session.execute(
        delete(_moves).where(_moves.c.account_digest.in_(accounts)), {"ids": list(customer_ids)}
    )
    await session.execute(
        delete(_account_addresses).where(
            _account_addresses.c.customer_id.in_(bindparam("ids", expanding=True))
        ),
        {"ids": list(customer_ids)},
    )
    orders = select(_orders.c.order_id).where(
        _orders.c.customer_id.in_(bindparam("ids", expanding=True))
    )
    await session.execute(
        delete(_addresses).where(_addresses.c.order_id.in_(orders)), {"ids": list(customer_ids)}
    )


async def replace_account_addresses(
    *, session: AsyncSession, account_digest: str, rows: Sequence[dict[str, Any]]
) -> None:
    """Make `rows` the account's addresses: a place listed before keeps its `first_seen_at`."""
    kept = [row["fingerprint"] for row in rows]
    await session.execute(
        delete(_account_addresses).where(
            _account_addresses.c.account_digest == account_digest,
            _account_addresses.c.fingerprint.not_in(kept),
        )
    )
    if not rows:
        return
    statement = insert(_account_addresses).values(list(rows))
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[_account_addresses.c.account_digest, _account_addresses.c.fingerprint],
            set_={
                name: statement.excluded[name]
                for name in ("customer_id", "position", "address", "last_seen_at")
            },
        )
    )


async def repoint_accounts(
    *, session: AsyncSession, from_customer: str, to_customer: str, merge_id: str
) -> None:
    """Move every account address of `from_customer` to `to_customer`, remembering the accounts
    under `merge_id`."""
    await session.execute(
        insert(_moves)
        .from_select(
            ["merge_id", "account_digest"],
            select(literal(merge_id), _account_addresses.c.account_digest)
            .where(_account_addresses.c.customer_id == from_customer)
            .distinct(),
        )
        .on_conflict_do_nothing()
    )
    await session.execute(
        update(_account_addresses)
        .where(_account_addresses.c.customer_id == from_customer)
        .values(customer_id=to_customer)
    )


async def move_accounts_back(
    *, session: AsyncSession, merge_id: str, survivor_id: str, merged_id: str
) -> None:
    """Undo `merge_id`: the accounts it moved go back to `merged_id`, unless a newer revision
    took them elsewhere since."""
    moved = select(_moves.c.account_digest).where(_moves.c.merge_id == merge_id)
    await session.execute(
        update(_account_addresses)
        .where(
            _account_addresses.c.customer_id == survivor_id,
            _account_addresses.c.account_digest.in_(moved),
        )
        .values(customer_id=merged_id)
    )
    await session.execute(delete(_moves).where(_moves.c.merge_id == merge_id))
