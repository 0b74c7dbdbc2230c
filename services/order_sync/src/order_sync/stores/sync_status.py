"""A store's sync status: what order-sync truthfully knows of the data the store sends.

It reads the orders, import and webhook tables, so it lives beside the stores rather than in
any one of those packages.
"""

from datetime import UTC, datetime

from crm_events.shop import FinancialStatus
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.imports import repository as imports
from order_sync.stores import repository
from order_sync.stores.schemas import (
    ImportActivity,
    LastOrderReceived,
    OrderCounts,
    SyncErrors,
    SyncStatusRead,
    WebhookActivity,
)
from order_sync.stores.service import get_store


async def sync_status(*, session: AsyncSession, store_id: str) -> SyncStatusRead:
    """The store's last received order, order counts, webhook and import activity and errors;
    raises `StoreNotFound`."""
    await get_store(session=session, store_id=store_id)
    as_of = datetime.now(UTC)
    last = await repository.last_change(session=session, store_id=store_id)
    counted = await repository.count_by_financial_status(session=session, store_id=store_id)
    rejected, last_rejected_at = await repository.rejection_summary(
        session=session, store_id=store_id
    )
    deliveries = await repository.webhook_deliveries(session=session, store_id=store_id)
    jobs = await imports.store_summary(session=session, store_id=store_id)
    return SyncStatusRead(
        store_id=store_id,
        as_of=as_of,
        last_order_received=(
            LastOrderReceived(
                at=last.changed_at,
                order_id=last.order_id,
                external_id=last.external_id,
                channel=last.changed_via,
            )
            if last
            else None
        ),
        orders=OrderCounts(
            total=sum(counted.values()),
            by_financial_status={s.value: counted.get(s.value, 0) for s in FinancialStatus},
        ),
        webhooks=WebhookActivity(
            last_received_at=deliveries.last_received_at,
            last_topic=deliveries.last_topic,
            last_outcome=deliveries.last_outcome,
            by_outcome=deliveries.by_outcome,
        ),
        imports=ImportActivity(
            in_progress=jobs.in_progress,
            completed=jobs.completed,
            failed=jobs.failed,
            last_finished_at=jobs.last_finished_at,
        ),
        errors=SyncErrors(
            rejected_batch_items=rejected,
            last_rejected_batch_item_at=last_rejected_at,
            rejected_import_orders=jobs.orders_rejected,
            failed_imports=jobs.failed,
            failed_webhooks=deliveries.by_outcome.get("failed", 0),
            rejected_webhooks=deliveries.by_outcome.get("rejected", 0),
        ),
    )
