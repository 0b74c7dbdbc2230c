from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.orders.models import Order, OrderRejection
from order_sync.stores.models import Store
from order_sync.webhooks.models import WebhookDelivery

_table = Store.__table__  # type: ignore[attr-defined, unused-ignore]
_deliveries = WebhookDelivery.__table__  # type: ignore[attr-defined, unused-ignore]
_orders = Order.__table__  # type: ignore[attr-defined, unused-ignore]
_rejections = OrderRejection.__table__  # type: ignore[attr-defined, unused-ignore]


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


async def countries(*, session: AsyncSession, store_ids: Collection[str]) -> dict[str, str | None]:
    """The country of each registered store among `store_ids` (unregistered ones are absent)."""
    if not store_ids:
        return {}
    rows = await session.execute(
        select(_table.c.store_id, _table.c.country).where(_table.c.store_id.in_(list(store_ids)))
    )
    return {row.store_id: row.country for row in rows}


@dataclass(frozen=True, slots=True)
class Deliveries:
    last_received_at: datetime | None
    last_topic: str | None
    last_outcome: str | None
    by_outcome: dict[str, int]


async def webhook_deliveries(*, session: AsyncSession, store_id: str) -> Deliveries:
    """The store's last webhook delivery and its deliveries counted by outcome."""
    c = _deliveries.c
    last = (
        await session.execute(
            select(c.received_at, c.topic, c.outcome)
            .where(c.store_id == store_id)
            .order_by(c.received_at.desc())
            .limit(1)
        )
    ).first()
    counts = await session.execute(
        select(c.outcome, func.count()).where(c.store_id == store_id).group_by(c.outcome)
    )
    return Deliveries(
        last.received_at if last else None,
        last.topic if last else None,
        last.outcome if last else None,
        {str(outcome): int(count) for outcome, count in counts},
    )


# --- Figures of a store's sync status, from the orders tables (stores/sync_status.py) ---


async def count_by_financial_status(*, session: AsyncSession, store_id: str) -> dict[str, int]:
    rows = await session.execute(
        select(_orders.c.financial_status, func.count())
        .where(_orders.c.store_id == store_id)
        .group_by(_orders.c.financial_status)
    )
    return {str(status): int(count) for status, count in rows}


@dataclass(frozen=True, slots=True)
class LastChange:
    order_id: str
    external_id: str
    changed_at: datetime
    changed_via: str | None


async def last_change(*, session: AsyncSession, store_id: str) -> LastChange | None:
    """The store's most recently stored order change."""
    c = _orders.c
    row = (
        await session.execute(
            select(c.order_id, c.external_id, c.changed_at, c.changed_via)
            .where(c.store_id == store_id)
            .order_by(c.changed_at.desc())
            .limit(1)
        )
    ).first()
    return LastChange(*row) if row is not None else None


async def rejection_summary(*, session: AsyncSession, store_id: str) -> tuple[int, datetime | None]:
    """How many orders of the store were rejected, and when the last one was."""
    row = (
        await session.execute(
            select(func.count(), func.max(_rejections.c.rejected_at)).where(
                _rejections.c.store_id == store_id
            )
        )
    ).one()
    return int(row[0]), row[1]
