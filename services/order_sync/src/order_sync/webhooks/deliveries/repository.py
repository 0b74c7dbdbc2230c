from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.webhooks.deliveries.models import WebhookReplay
from order_sync.webhooks.deliveries.schemas import DeliveryFilters
from order_sync.webhooks.models import BODY_KEPT, REJECTED, WebhookDelivery

_deliveries = WebhookDelivery.__table__  # type: ignore[attr-defined, unused-ignore]
_replays = WebhookReplay.__table__  # type: ignore[attr-defined, unused-ignore]

# Every column but the body, which may be megabytes: lists never need it.
_SUMMARY = [column for column in _deliveries.c if column.name != "body"]


async def list_deliveries(
    *, session: AsyncSession, filters: DeliveryFilters, before: int | None, limit: int
) -> Sequence[Row[Any]]:
    """Up to `limit` deliveries matching `filters`, newest (highest id) first, below `before`."""
    query = select(*_SUMMARY).order_by(_deliveries.c.id.desc()).limit(limit)
    if filters.store_id is not None:
        query = query.where(_deliveries.c.store_id == filters.store_id)
    if filters.platform is not None:
        query = query.where(_deliveries.c.platform == filters.platform)
    if filters.topic is not None:
        query = query.where(_deliveries.c.topic == filters.topic)
    if filters.outcome is not None:
        query = query.where(_deliveries.c.outcome == filters.outcome.value)
    if before is not None:
        query = query.where(_deliveries.c.id < before)
    return (await session.execute(query)).all()


async def get_delivery(
    *, session: AsyncSession, delivery: int, lock: bool = False
) -> WebhookDelivery | None:
    """The delivery with its body; `lock` holds its row until the transaction ends (a replay
    does, so that concurrent replays apply one after the other and retention waits)."""
    query = select(_deliveries).where(_deliveries.c.id == delivery)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return WebhookDelivery(**row._mapping) if row is not None else None


async def list_replays(*, session: AsyncSession, delivery: int) -> list[WebhookReplay]:
    rows = await session.execute(
        select(_replays).where(_replays.c.webhook_delivery_id == delivery).order_by(_replays.c.id)
    )
    return [WebhookReplay(**row._mapping) for row in rows]


async def add_replay(*, session: AsyncSession, replay: WebhookReplay) -> int:
    inserted = await session.execute(
        insert(_replays).values(replay.model_dump(exclude={"id"})).returning(_replays.c.id)
    )
    return int(inserted.scalar_one())


async def purge_bodies(
    *, session: AsyncSession, received_before: datetime, limit: int, now: datetime
) -> int:
    """Empty the bodies of up to `limit` accepted deliveries received before the cutoff; rows
    another replica (or a replay) holds are skipped, not waited for. Returns how many."""
    due = (
        select(_deliveries.c.id)
        .where(BODY_KEPT, _deliveries.c.received_at < received_before)
        .order_by(_deliveries.c.received_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    purged = await session.execute(
        update(_deliveries)
        .where(_deliveries.c.id.in_(due.scalar_subquery()))
        .values(body=b"", body_purged_at=now)
    )
    return int(purged.rowcount)  # type: ignore[attr-defined]


async def delete_rejected(*, session: AsyncSession, received_before: datetime, limit: int) -> int:
    """Delete up to `limit` rejected records received before the cutoff (skipping locked ones)."""
    due = (
        select(_deliveries.c.id)
        .where(REJECTED, _deliveries.c.received_at < received_before)
        .order_by(_deliveries.c.received_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await _delete(session, due)


async def delete_records(*, session: AsyncSession, received_before: datetime, limit: int) -> int:
    """Delete up to `limit` records of any outcome received before the cutoff, with their
    replays (skipping locked ones)."""
    due = (
        select(_deliveries.c.id)
        .where(_deliveries.c.received_at < received_before)
        .order_by(_deliveries.c.received_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await _delete(session, due)


async def _delete(session: AsyncSession, due: Any) -> int:
    deleted = await session.execute(
        delete(_deliveries).where(_deliveries.c.id.in_(due.scalar_subquery()))
    )
    return int(deleted.rowcount)  # type: ignore[attr-defined]
