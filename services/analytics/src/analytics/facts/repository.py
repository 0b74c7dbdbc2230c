from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.facts.models import CustomerMerge, OrderAttribution, OrderFact

_facts = OrderFact.__table__  # type: ignore[attr-defined]
_attributions = OrderAttribution.__table__  # type: ignore[attr-defined]
_merges = CustomerMerge.__table__  # type: ignore[attr-defined]

# Namespaces of the two-key advisory locks, so an order id and a customer id never share a lock.
_ORDER_LOCKS = 8_005_001
_CUSTOMER_LOCKS = 8_005_002
_LOCK = text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:key))")
# Many orders in one round trip, taken in the array's order: callers pass them sorted, so
# that two transactions locking overlapping sets never wait for each other in a circle.
_LOCK_MANY = text(
    "SELECT count(pg_advisory_xact_lock(:namespace, hashtext(key))) FROM unnest(:keys) AS key"
).bindparams(bindparam("keys", type_=ARRAY(String())))


async def lock_order(*, session: AsyncSession, order_id: str) -> None:
    """Hold the order until the transaction ends (its fact and attribution change together)."""
    await session.execute(_LOCK, {"namespace": _ORDER_LOCKS, "key": order_id})


async def lock_orders(*, session: AsyncSession, order_ids: Sequence[str]) -> None:
    """`lock_order` for each of `order_ids`, in sorted order."""
    if order_ids:
        keys = sorted(set(order_ids))
        await session.execute(_LOCK_MANY, {"namespace": _ORDER_LOCKS, "keys": keys})


async def lock_customer(*, session: AsyncSession, customer_id: str) -> None:
    """Hold the customer until the transaction ends (a merge of it waits, and vice versa)."""
    await session.execute(_LOCK, {"namespace": _CUSTOMER_LOCKS, "key": customer_id})


async def survivor_of(*, session: AsyncSession, customer_id: str) -> str | None:
    """The customer that `customer_id` was merged into, or None when it was never merged."""
    result: str | None = await session.scalar(
        select(_merges.c.survivor_id).where(_merges.c.merged_id == customer_id)
    )
    return result


async def attributed_customer(*, session: AsyncSession, order_id: str) -> str | None:
    result: str | None = await session.scalar(
        select(_attributions.c.customer_id).where(_attributions.c.order_id == order_id)
    )
    return result


async def upsert_fact_if_newer(*, session: AsyncSession, fact: OrderFact) -> None:
    """Insert, or overwrite only when `fact` carries a newer version than the stored one."""
    values = fact.model_dump()
    statement = insert(_facts).values(values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[_facts.c.order_id],
            set_={k: statement.excluded[k] for k in values if k != "order_id"},
            where=_facts.c.version < statement.excluded.version,
        )
    )


async def upsert_attribution_if_newer(
    *, session: AsyncSession, attribution: OrderAttribution
) -> bool:
    """Store the attribution unless a later one of the same order is stored; True when stored."""
    values = attribution.model_dump()
    statement = insert(_attributions).values(values)
    stored = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[_attributions.c.order_id],
            set_={k: statement.excluded[k] for k in values if k != "order_id"},
            where=_attributions.c.attributed_at <= statement.excluded.attributed_at,
        ).returning(_attributions.c.order_id)
    )
    return stored.first() is not None


async def set_fact_customer(*, session: AsyncSession, order_id: str, customer_id: str) -> None:
    await session.execute(
        update(_facts).where(_facts.c.order_id == order_id).values(customer_id=customer_id)
    )


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


async def repoint_customer(*, session: AsyncSession, old_id: str, new_id: str) -> None:
    """The attributions and facts that name `old_id` name `new_id`. Merges of other customers
    into `old_id` stay as they are: they reach `new_id` through `old_id`'s own merge."""
    await session.execute(
        update(_attributions)
        .where(_attributions.c.customer_id == old_id)
        .values(customer_id=new_id)
    )
    await session.execute(
        update(_facts).where(_facts.c.customer_id == old_id).values(customer_id=new_id)
    )


async def reattribute(
    *, session: AsyncSession, order_ids: Sequence[str], customer_id: str, not_after: datetime
) -> list[str]:
    """Give the orders' attributions and facts to `customer_id`, except the orders attributed
    anew after `not_after`; returns the orders given."""
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
