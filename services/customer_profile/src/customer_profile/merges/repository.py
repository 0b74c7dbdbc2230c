from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, exists, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from customer_profile.customers import repository as customers
from customer_profile.customers.identities import IdentityKey
from customer_profile.customers.models import CustomerIdentity, CustomerOrder
from customer_profile.merges.models import MergeLogEntry, MergeSuggestion

_identities = SQLModel.metadata.tables["customer_identities"]
_orders = SQLModel.metadata.tables["customer_orders"]
_log = SQLModel.metadata.tables["merge_log"]
_suggestions = SQLModel.metadata.tables["merge_suggestions"]

MERGE = "merge"
UNDO = "undo"
OPEN = "open"
DISMISSED = "dismissed"
MERGED = "merged"


async def order_ids_of(*, session: AsyncSession, customer_id: str) -> list[str]:
    rows = await session.execute(
        select(_orders.c.order_id)
        .where(_orders.c.customer_id == customer_id)
        .order_by(_orders.c.order_id)
    )
    return list(rows.scalars())


async def move_identities(*, session: AsyncSession, from_id: str, to_id: str) -> None:
    # ORM-enabled so that identity and order objects already in the session follow the move.
    await session.execute(
        update(CustomerIdentity)
        .where(_identities.c.customer_id == from_id)
        .values(customer_id=to_id)
    )


async def move_orders(*, session: AsyncSession, from_id: str, to_id: str) -> None:
    await session.execute(
        update(CustomerOrder).where(_orders.c.customer_id == from_id).values(customer_id=to_id)
    )


async def move_identities_back(
    *, session: AsyncSession, keys: Sequence[IdentityKey], from_id: str, to_id: str
) -> None:
    """Point those of `keys` that `from_id` still holds at `to_id`."""
    # An erasure blanks the values in the snapshot the keys come from: those match nothing.
    keys = [key for key in keys if key.value]
    if not keys:
        return
    wanted = customers.identity_columns(keys)
    await session.execute(
        update(CustomerIdentity)
        .where(
            _identities.c.customer_id == from_id,
            tuple_(_identities.c.kind, _identities.c.store_id, _identities.c.value).in_(wanted),
        )
        .values(customer_id=to_id)
        .execution_options(synchronize_session="fetch")
    )


async def move_orders_back(
    *, session: AsyncSession, order_ids: Sequence[str], from_id: str, to_id: str
) -> None:
    if not order_ids:
        return
    await session.execute(
        update(CustomerOrder)
        .where(_orders.c.customer_id == from_id, _orders.c.order_id.in_(order_ids))
        .values(customer_id=to_id)
        .execution_options(synchronize_session="fetch")
    )


async def orders_attributed_since(
    *, session: AsyncSession, customer_id: str, since: datetime
) -> list[CustomerOrder]:
    """The customer's orders first attributed at or after `since`, in attribution order."""
    rows = await session.execute(
        select(CustomerOrder)
        .where(_orders.c.customer_id == customer_id, _orders.c.attributed_at >= since)
        .order_by(_orders.c.attributed_at, _orders.c.order_id)
    )
    return list(rows.scalars())


async def identities_linked_by(
    *, session: AsyncSession, customer_id: str, order_ids: Sequence[str], since: datetime
) -> list[CustomerIdentity]:
    """The identities of the customer that `order_ids` linked at or after `since`."""
    if not order_ids:
        return []
    rows = await session.execute(
        select(CustomerIdentity).where(
            _identities.c.customer_id == customer_id,
            _identities.c.order_id.in_(list(order_ids)),
            _identities.c.linked_at >= since,
        )
    )
    return list(rows.scalars())


def add_entry(*, session: AsyncSession, entry: MergeLogEntry) -> None:
    session.add(entry)


async def get_merge(*, session: AsyncSession, merge_id: str) -> MergeLogEntry | None:
    rows = await session.execute(
        select(MergeLogEntry).where(_log.c.entry_id == merge_id, _log.c.action == MERGE)
    )
    return rows.scalars().first()


async def undo_of(*, session: AsyncSession, merge_id: str) -> MergeLogEntry | None:
    rows = await session.execute(
        select(MergeLogEntry).where(_log.c.merge_id == merge_id, _log.c.action == UNDO)
    )
    return rows.scalars().first()


async def undos_of(*, session: AsyncSession, merge_ids: Sequence[str]) -> dict[str, str]:
    """`{merge_id: entry_id of its undo}` for those of `merge_ids` that were undone."""
    if not merge_ids:
        return {}
    rows = await session.execute(
        select(_log.c.merge_id, _log.c.entry_id).where(
            _log.c.merge_id.in_(merge_ids), _log.c.action == UNDO
        )
    )
    return dict(rows.all())


async def later_merges_in_effect(
    *, session: AsyncSession, after_seq: int, customer_ids: Sequence[str]
) -> list[str]:
    """The merges logged after `after_seq`, not undone, that involve any of `customer_ids`."""
    undone = _log.alias("undone")
    rows = await session.execute(
        select(_log.c.merge_id)
        .where(
            _log.c.seq > after_seq,
            _log.c.action == MERGE,
            or_(_log.c.survivor_id.in_(customer_ids), _log.c.merged_id.in_(customer_ids)),
            ~exists().where(undone.c.merge_id == _log.c.merge_id, undone.c.action == UNDO),
        )
        .order_by(_log.c.seq)
    )
    return list(rows.scalars())


async def log_page(
    *, session: AsyncSession, customer_id: str | None, after_seq: int, limit: int
) -> list[MergeLogEntry]:
    query = select(MergeLogEntry).where(_log.c.seq > after_seq)
    if customer_id is not None:
        query = query.where(or_(_log.c.survivor_id == customer_id, _log.c.merged_id == customer_id))
    rows = await session.execute(query.order_by(_log.c.seq).limit(limit))
    return list(rows.scalars())


async def add_suggestion(*, session: AsyncSession, suggestion: MergeSuggestion) -> None:
    """Store `suggestion` unless the same pair and identity were suggested before (a dismissed
    suggestion stays dismissed)."""
    table = MergeSuggestion.__table__  # type: ignore[attr-defined]
    values = suggestion.model_dump()
    await session.execute(insert(table).values(values).on_conflict_do_nothing())


async def get_suggestion(
    *, session: AsyncSession, suggestion_id: str, lock: bool = False
) -> MergeSuggestion | None:
    return await session.get(
        MergeSuggestion, suggestion_id, with_for_update=lock, populate_existing=lock
    )


async def resolve_suggestions_between(
    *, session: AsyncSession, customer_ids: tuple[str, str], merge_id: str, at: datetime, by: str
) -> list[str]:
    """Mark the open suggestions of the pair merged by `merge_id`; returns their ids."""
    first, second = customer_ids
    pair = or_(
        and_(_suggestions.c.survivor_id == first, _suggestions.c.merged_id == second),
        and_(_suggestions.c.survivor_id == second, _suggestions.c.merged_id == first),
    )
    rows = await session.execute(
        update(_suggestions)
        .where(pair, _suggestions.c.status == OPEN)
        .values(status=MERGED, merge_id=merge_id, resolved_at=at, resolved_by=by)
        .returning(_suggestions.c.suggestion_id)
    )
    return sorted(rows.scalars())


async def reopen_suggestions(*, session: AsyncSession, merge_id: str) -> None:
    await session.execute(
        update(_suggestions)
        .where(_suggestions.c.merge_id == merge_id, _suggestions.c.status == MERGED)
        .values(status=OPEN, merge_id=None, resolved_at=None, resolved_by=None)
    )


async def suggestion_page(
    *,
    session: AsyncSession,
    status: str | None,
    customer_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[MergeSuggestion]:
    query = select(MergeSuggestion)
    if status is not None:
        query = query.where(_suggestions.c.status == status)
    if customer_id is not None:
        query = query.where(
            or_(_suggestions.c.survivor_id == customer_id, _suggestions.c.merged_id == customer_id)
        )
    if after is not None:
        query = query.where(
            tuple_(_suggestions.c.created_at, _suggestions.c.suggestion_id) > tuple_(*after)
        )
    rows = await session.execute(
        query.order_by(_suggestions.c.created_at, _suggestions.c.suggestion_id).limit(limit)
    )
    return list(rows.scalars())
