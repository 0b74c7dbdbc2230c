"""Every query of the order facts. Writes take a batch's rows as one array per column
(`unnest`), so a batch of any size is one statement compiled once, and one round trip."""

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, bindparam, delete, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.facts.events import AttributionRow, FactRow
from analytics.facts.models import CustomerMerge, OrderAttribution, OrderFact
from analytics.rollups.entries import Written

_facts = OrderFact.__table__  # type: ignore[attr-defined]
_attributions = OrderAttribution.__table__  # type: ignore[attr-defined]
_merges = CustomerMerge.__table__  # type: ignore[attr-defined]

# Namespaces of the two-key advisory locks, so an order id and a customer id never share a lock.
_ORDER_LOCKS = 8_005_001
_CUSTOMER_LOCKS = 8_005_002
# Many keys in one round trip, taken in the array's order: callers pass them sorted, so that two
# transactions locking overlapping sets never wait for each other in a circle.
_LOCK_MANY = text(
    "SELECT count(pg_advisory_xact_lock(:namespace, hashtext(key))) FROM unnest(:keys) AS key"
).bindparams(bindparam("keys", type_=ARRAY(String())))

_FACT_TYPES = (
    "text",
    "text",
    "text",
    "timestamptz",
    "text",
    "text",
    "timestamptz",
    "numeric",
    "numeric",
    "text",
    "integer",
    "timestamptz",
    "boolean",
    "numeric",
)
_FACT_COLUMNS = (*FactRow._fields, "customer_id")
_FACT_ARRAYS = [*_FACT_TYPES, "text"]
# What places an order in its buyer's history, and what it adds to the cohorts.
_HISTORY = ("store_id", "placed_at", "counted", "customer_id", "customer_ref")
_AMOUNTS = ("currency", "net_sales")


def _compared(columns: Sequence[str]) -> str:
    return (
        f"({', '.join(f'w.{c}' for c in columns)}) IS DISTINCT FROM "
        f"({', '.join(f'b.{c}' for c in columns)})"
    )


# The version guard: a snapshot overwrites the stored fact only when it is newer. Each fact
# written is compared with the one it replaced (the CTE `before` reads the table as the
# statement began); one of version 0 was stored before the roll-ups (migration 0004) and is
# in no buyer's history yet.
_UPSERT_FACTS = text(
    f"WITH before AS (SELECT order_id, version, {', '.join(_HISTORY + _AMOUNTS)} "
    "FROM order_facts "
    "WHERE order_id = ANY(CAST(:order_id AS text[]))), "
    f"written AS (INSERT INTO order_facts ({', '.join(_FACT_COLUMNS)}) "
    "SELECT * FROM unnest("
    + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(_FACT_COLUMNS, _FACT_ARRAYS, strict=True))
    + ") ON CONFLICT (order_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _FACT_COLUMNS if c != "order_id")
    + " WHERE order_facts.version < excluded.version "
    f"RETURNING order_id, {', '.join(_HISTORY + _AMOUNTS)}) "
    f"SELECT w.order_id, b.order_id IS NULL OR b.version = 0 OR {_compared(_HISTORY)}, "
    f"{_compared(_AMOUNTS)} "
    "FROM written AS w LEFT JOIN before AS b USING (order_id)"
)


# A later attribution of an order (by time) replaces an earlier one; returns those stored.
_UPSERT_ATTRIBUTIONS = text(
    "INSERT INTO order_attributions (order_id, customer_id, store_id, attributed_at) "
    "SELECT * FROM unnest(CAST(:order_id AS text[]), CAST(:customer_id AS text[]), "
    "CAST(:store_id AS text[]), CAST(:attributed_at AS timestamptz[])) "
    "ON CONFLICT (order_id) DO UPDATE SET customer_id = excluded.customer_id, "
    "store_id = excluded.store_id, attributed_at = excluded.attributed_at "
    "WHERE order_attributions.attributed_at <= excluded.attributed_at "
    "RETURNING order_id, customer_id"
)
_SET_FACT_CUSTOMERS = text(
    "UPDATE order_facts SET customer_id = given.customer_id "
    "FROM unnest(CAST(:order_id AS text[]), CAST(:customer_id AS text[])) "
    "AS given(order_id, customer_id) WHERE order_facts.order_id = given.order_id "
    "AND order_facts.customer_id IS DISTINCT FROM given.customer_id "
    "RETURNING order_facts.order_id"
)
# `= ANY(array)` rather than `IN (...)`: one statement, prepared once, whatever the batch's size.
_SURVIVORS = text(
    "SELECT merged_id, survivor_id FROM customer_merges "
    "WHERE merged_id = ANY(CAST(:keys AS text[]))"
)
_ATTRIBUTED = text(
    "SELECT order_id, customer_id FROM order_attributions "
    "WHERE order_id = ANY(CAST(:keys AS text[]))"
)
_CLAIM = text(
    "INSERT INTO processed_events (consumer, event_id, processed_at) "
    "SELECT :consumer, event_id, :now FROM unnest(CAST(:event_ids AS text[])) AS event_id "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


async def lock_orders(*, session: AsyncSession, order_ids: Iterable[str]) -> None:
    """Hold the orders until the transaction ends (a fact and its attribution change together);
    taken in sorted order."""
    await _lock(session, _ORDER_LOCKS, order_ids)


async def lock_customers(*, session: AsyncSession, customer_ids: Iterable[str]) -> None:
    """Hold the customers until the transaction ends (a merge of one waits, and vice versa);
    taken in sorted order."""
    await _lock(session, _CUSTOMER_LOCKS, customer_ids)


async def _lock(session: AsyncSession, namespace: int, keys: Iterable[str]) -> None:
    ordered = sorted(set(keys))
    if ordered:
        await session.execute(_LOCK_MANY, {"namespace": namespace, "keys": ordered})


async def survivors_of(*, session: AsyncSession, customer_ids: Collection[str]) -> dict[str, str]:
    """The customer each of `customer_ids` was merged into, for those that were merged."""
    if not customer_ids:
        return {}
    rows = await session.execute(_SURVIVORS, {"keys": list(customer_ids)})
    return dict(rows.all())


async def attributed_customers(
    *, session: AsyncSession, order_ids: Collection[str]
) -> dict[str, str]:
    """The customer each of `order_ids` is attributed to, for those attributed."""
    if not order_ids:
        return {}
    rows = await session.execute(_ATTRIBUTED, {"keys": list(order_ids)})
    return dict(rows.all())


async def upsert_facts_if_newer(
    *, session: AsyncSession, facts: Sequence[FactRow], customers: Mapping[str, str]
) -> dict[str, Written]:
    """Insert each fact, or overwrite the stored one only when the row carries a newer version;
    `customers` gives the orders' customers (an order missing there has none). One row per
    order: a statement cannot touch a row twice. Returns the orders written, and how."""
    if not facts:
        return {}
    values: dict[str, Sequence[Any]] = dict(
        zip(FactRow._fields, zip(*facts, strict=True), strict=True)
    )
    values["customer_id"] = [customers.get(fact.order_id) for fact in facts]
    written = await session.execute(_UPSERT_FACTS, values)
    return {order_id: Written(moved, restated) for order_id, moved, restated in written.all()}


async def upsert_attributions_if_newer(
    *, session: AsyncSession, attributions: Sequence[AttributionRow]
) -> dict[str, str]:
    """Store each attribution unless a later one of the same order is stored; returns the
    customers of the orders whose attribution was stored. One row per order."""
    if not attributions:
        return {}
    columns = zip(*attributions, strict=True)
    stored = await session.execute(
        _UPSERT_ATTRIBUTIONS, dict(zip(AttributionRow._fields, columns, strict=True))
    )
    return dict(stored.all())


async def set_fact_customers(*, session: AsyncSession, customers: Mapping[str, str]) -> list[str]:
    """Give the stored facts of these orders their customer; returns the facts changed."""
    if not customers:
        return []
    changed = await session.execute(
        _SET_FACT_CUSTOMERS,
        {"order_id": list(customers), "customer_id": list(customers.values())},
    )
    return list(changed.scalars())


async def claim_events(
    *, session: AsyncSession, consumer: str, event_ids: Iterable[str]
) -> set[str]:
    """Record `event_ids` as applied by `consumer`; returns those not recorded before. In the
    transaction that applies them, so the claims and the effects commit or roll back together;
    sorted, so that two transactions claiming the same ids wait in one order."""
    ordered = sorted(set(event_ids))
    if not ordered:
        return set()
    claimed = await session.execute(
        _CLAIM, {"consumer": consumer, "event_ids": ordered, "now": datetime.now(UTC)}
    )
    return set(claimed.scalars())


async def record_merge(
    *, session: AsyncSession, merged_id: str, survivor_id: str, at: datetime
) -> None:
    # A customer is merged once until the merge is undone; a contradicting second merge keeps
    # the first survivor.
    await session.execute(
        insert(_merges)
        .values(merged_id=merged_id, survivor_id=survivor_id, merged_at=at)
        .on_conflict_do_nothing(index_elements=[_merges.c.merged_id])
    )


async def forget_merge(*, session: AsyncSession, merged_id: str) -> None:
    await session.execute(delete(_merges).where(_merges.c.merged_id == merged_id))


async def repoint_customer(*, session: AsyncSession, old_id: str, new_id: str) -> list[str]:
    """The attributions and facts that name `old_id` name `new_id`; returns the facts changed.
    Merges of other customers into `old_id` stay as they are: they reach `new_id` through
    `old_id`'s own merge."""
    await session.execute(
        update(_attributions)
        .where(_attributions.c.customer_id == old_id)
        .values(customer_id=new_id)
    )
    changed = await session.execute(
        update(_facts)
        .where(_facts.c.customer_id == old_id)
        .values(customer_id=new_id)
        .returning(_facts.c.order_id)
    )
    return list(changed.scalars())


async def reattribute(
    *, session: AsyncSession, order_ids: Sequence[str], customer_id: str, not_after: datetime
) -> list[str]:
    """Give the orders' attributions and facts to `customer_id`, except the orders attributed
    anew after `not_after`; returns the orders given (whose facts changed, if stored)."""
    moved = await session.execute(
        update(_attributions)
        .where(_attributions.c.order_id.in_(order_ids), _attributions.c.attributed_at <= not_after)
        .values(customer_id=customer_id)
        .returning(_attributions.c.order_id)
    )
    given = list(moved.scalars())
    if given:
        await session.execute(
            update(_facts).where(_facts.c.order_id.in_(given)).values(customer_id=customer_id)
        )
    return given
