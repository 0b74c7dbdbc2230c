"""Storing shop orders and owing their lifecycle events: the same rules for the API and Kafka."""

from dataclasses import dataclass
from datetime import UTC, datetime

from crm_common.idempotency import first_delivery
from crm_common.outbox import add_event
from crm_events.order import OrderSnapshot
from crm_events.shop import CanonicalOrder
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.orders import repository
from order_sync.orders.events import lifecycle_event, order_id_for, snapshot
from order_sync.orders.exceptions import OrderNotFound, UnknownStore
from order_sync.orders.lifecycle import LifecycleState, OrderEventType, lifecycle_events
from order_sync.orders.models import Order, OrderLine
from order_sync.orders.schemas import UpsertStatus
from order_sync.stores.service import find_store

SHOP_ORDERS_CONSUMER = "order-sync.shop-orders"


@dataclass(frozen=True, slots=True)
class UpsertOutcome:
    order_id: str
    status: UpsertStatus
    version: int
    events: tuple[OrderEventType, ...] = ()


async def upsert_order(
    *, session: AsyncSession, order: CanonicalOrder, topic: str
) -> UpsertOutcome:
    """Store a shop order unless it is no newer than the stored one; stage the events it owes.

    Raises `UnknownStore` when its store is not registered.
    """
    store = await find_store(session=session, store_id=order.store_id)
    if store is None:
        raise UnknownStore(order.store_id)
    order_id = order_id_for(order.store_id, order.external_id)
    existing = await repository.lock(session=session, order_id=order_id)
    if existing is None:
        data = snapshot(order, order_id=order_id, version=1, store_country=store.country)
        row, lines = _rows(order, data, first_stored_at=None)
        if await repository.insert_new(session=session, order=row, lines=lines):
            events = lifecycle_events(None, LifecycleState.of(order))
            _stage(session, topic=topic, data=data, events=events)
            return UpsertOutcome(order_id, UpsertStatus.CREATED, 1, tuple(events))
        # A concurrent delivery of the same order stored it first; apply ours on top of it.
        existing = await repository.lock(session=session, order_id=order_id)
        if existing is None:
            raise RuntimeError(f"order {order_id} vanished while it was being stored")

    incoming_at = _revision_time(order)
    if incoming_at <= existing.updated_at:
        return UpsertOutcome(order_id, UpsertStatus.UNCHANGED, existing.version)
    previous = CanonicalOrder.model_validate(existing.body)
    if _same_content(previous, order):
        # Only the shop's clock moved: nothing to announce, but older revisions that arrive
        # later must still lose against this one.
        await repository.advance_updated_at(
            session=session,
            order_id=order_id,
            updated_at=incoming_at,
            body=order.model_dump(mode="json"),
        )
        return UpsertOutcome(order_id, UpsertStatus.UNCHANGED, existing.version)
    version = existing.version + 1
    data = snapshot(order, order_id=order_id, version=version, store_country=store.country)
    row, lines = _rows(order, data, first_stored_at=existing.created_at)
    await repository.replace(session=session, order=row, lines=lines)
    events = lifecycle_events(LifecycleState.of(previous), LifecycleState.of(order))
    _stage(session, topic=topic, data=data, events=events)
    return UpsertOutcome(order_id, UpsertStatus.UPDATED, version, tuple(events))


async def apply_shop_order_event(
    *, session: AsyncSession, event_id: str, order: CanonicalOrder, topic: str
) -> UpsertOutcome | None:
    """Apply a `shop.order.upserted` event once; None when this event id was applied before."""
    if not await first_delivery(session, consumer=SHOP_ORDERS_CONSUMER, event_id=event_id):
        return None
    return await upsert_order(session=session, order=order, topic=topic)


async def get_order(*, session: AsyncSession, order_id: str) -> OrderSnapshot:
    """The stored order as a snapshot; raises `OrderNotFound`."""
    row = await repository.get(session=session, order_id=order_id)
    if row is None:
        raise OrderNotFound(order_id)
    store = await find_store(session=session, store_id=row.store_id)
    return snapshot(
        CanonicalOrder.model_validate(row.body),
        order_id=row.order_id,
        version=row.version,
        store_country=store.country if store is not None else None,
    )


def _revision_time(order: CanonicalOrder) -> datetime:
    # The contract fills a missing updated_at from placed_at, so None cannot reach here.
    return order.updated_at or order.placed_at


def _same_content(previous: CanonicalOrder, current: CanonicalOrder) -> bool:
    # Compared as Python values, so "12.5" and "12.50" or two spellings of one instant are equal.
    return previous.model_dump(exclude={"updated_at"}) == current.model_dump(exclude={"updated_at"})


def _stage(
    session: AsyncSession, *, topic: str, data: OrderSnapshot, events: list[OrderEventType]
) -> None:
    for event_type in events:
        add_event(session, topic=topic, key=data.order_id, event=lifecycle_event(event_type, data))


def _rows(
    order: CanonicalOrder, data: OrderSnapshot, *, first_stored_at: datetime | None
) -> tuple[Order, list[OrderLine]]:
    now = datetime.now(UTC)
    row = Order(
        order_id=data.order_id,
        store_id=data.store_id,
        external_id=data.external_id,
        placed_at=data.placed_at,
        updated_at=_revision_time(data),
        currency=data.currency,
        financial_status=data.financial_status.value,
        fulfillment_status=data.fulfillment_status.value,
        cancelled_at=data.cancelled_at,
        discount_total=data.discount_total,
        shipping_total=data.shipping_total,
        tax_total=data.tax_total,
        total=data.total,
        refunded_total=data.refunded_total,
        net_paid=data.net_paid,
        customer_external_id=data.customer.external_id,
        customer_email=data.customer.email,
        customer_phone=data.customer.phone,
        version=data.version,
        body=order.model_dump(mode="json"),
        created_at=first_stored_at or now,
        changed_at=now,
    )
    lines = [
        OrderLine(
            order_id=data.order_id,
            position=position,
            external_id=line.external_id,
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_total=line.discount_total,
            total=line.total,
            variant_id=line.variant_id,
            product_id=line.product_id,
        )
        for position, line in enumerate(data.lines)
    ]
    return row, lines
