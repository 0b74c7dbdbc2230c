"""Storing shop orders and owing their lifecycle events: the same rules for the API and Kafka."""

from dataclasses import dataclass
from datetime import UTC, datetime

from crm_common.idempotency import first_delivery
from crm_common.outbox import add_encoded_event
from crm_events.order import OrderSnapshot
from crm_events.shop import CanonicalOrder
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.inventory import service as inventory
from order_sync.orders import repository
from order_sync.orders.events import EncodedEvents, order_id_for, publishable_events, snapshot
from order_sync.orders.exceptions import InvalidOrder, OrderNotFound, UnknownStore
from order_sync.orders.lifecycle import LifecycleState, OrderEventType, lifecycle_events
from order_sync.orders.models import Order, OrderLine
from order_sync.orders.records import holds_records, store_records
from order_sync.orders.rows import line_rows, order_row
from order_sync.orders.schemas import Channel, UpsertStatus
from order_sync.orders.validation import Rejected, storage_problems
from order_sync.stores.service import find_store

SHOP_ORDERS_CONSUMER = "order-sync.shop-orders"


@dataclass(frozen=True, slots=True)
class UpsertOutcome:
    order_id: str
    status: UpsertStatus
    version: int
    events: tuple[OrderEventType, ...] = ()


async def upsert_order(
    *,
    session: AsyncSession,
    order: CanonicalOrder,
    topic: str,
    channel: Channel | None = None,
) -> UpsertOutcome:
    """Store a shop order unless it is no newer than the stored one; stage the events it owes.

    `channel` (how the order arrived) is recorded with a stored change. Raises `UnknownStore`
    when its store is not registered, `InvalidOrder` when order-sync cannot store it or could
    never publish its events.
    """
    store = await find_store(session=session, store_id=order.store_id)
    if store is None:
        raise UnknownStore(order.store_id)
    problems = storage_problems(order)
    if problems:
        raise InvalidOrder(problems)
    order_id = order_id_for(order.store_id, order.external_id)
    existing = await repository.lock(session=session, order_id=order_id)
    if existing is None:
        data = snapshot(order, order_id=order_id, version=1, store_country=store.country)
        events = lifecycle_events(None, LifecycleState.of(order))
        encoded = _publishable(data, events)
        row, lines = _rows(order, data, first_stored_at=None, channel=channel)
        if await repository.insert_new(session=session, order=row, lines=lines):
            await store_records(session=session, replaced=(), written=[data])
            stage_events(session, topic=topic, key=order_id, encoded=encoded)
            await inventory.apply_order_transition(session=session, order=data, events=events)
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
    events = lifecycle_events(LifecycleState.of(previous), LifecycleState.of(order))
    encoded = _publishable(data, events)
    row, lines = _rows(order, data, first_stored_at=existing.created_at, channel=channel)
    await repository.replace(session=session, order=row, lines=lines)
    replaced = [order_id] if holds_records(existing.body) else []
    await store_records(session=session, replaced=replaced, written=[data])
    stage_events(session, topic=topic, key=order_id, encoded=encoded)
    await inventory.apply_order_transition(session=session, order=data, events=events)
    return UpsertOutcome(order_id, UpsertStatus.UPDATED, version, tuple(events))


async def apply_shop_order_event(
    *, session: AsyncSession, event_id: str, order: CanonicalOrder, topic: str
) -> UpsertOutcome | None:
    """Apply a `shop.order.upserted` event once; None when this event id was applied before."""
    if not await first_delivery(session, consumer=SHOP_ORDERS_CONSUMER, event_id=event_id):
        return None
    return await upsert_order(session=session, order=order, topic=topic, channel=Channel.KAFKA)


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


# The rules above, for applying many orders at once with the same result (orders/bulk.py).
def revision_time(order: CanonicalOrder) -> datetime:
    """The time that orders the revisions of one order (newer wins)."""
    return _revision_time(order)


def same_content(previous: CanonicalOrder, current: CanonicalOrder) -> bool:
    """Whether two revisions differ in nothing but `updated_at`."""
    return _same_content(previous, current)


def stage_events(session: AsyncSession, *, topic: str, key: str, encoded: EncodedEvents) -> None:
    """Stage the lifecycle events of one stored change (`publishable_events`) in the outbox."""
    for event_id, payload in encoded:
        add_encoded_event(session, topic=topic, key=key, event_id=event_id, payload=payload)


def _revision_time(order: CanonicalOrder) -> datetime:
    # The contract fills a missing updated_at from placed_at, so None cannot reach here.
    return order.updated_at or order.placed_at


def _same_content(previous: CanonicalOrder, current: CanonicalOrder) -> bool:
    # Compared as Python values, so "12.5" and "12.50" or two spellings of one instant are equal.
    return previous.model_dump(exclude={"updated_at"}) == current.model_dump(exclude={"updated_at"})


def _publishable(data: OrderSnapshot, events: list[OrderEventType]) -> EncodedEvents:
    encoded = publishable_events(data, events)
    if isinstance(encoded, Rejected):
        raise InvalidOrder(encoded.problems)
    return encoded


def _rows(
    order: CanonicalOrder,
    data: OrderSnapshot,
    *,
    first_stored_at: datetime | None,
    channel: Channel | None = None,
) -> tuple[Order, list[OrderLine]]:
    now = datetime.now(UTC)
    row = Order(
        **order_row(order, data, created_at=first_stored_at or now, changed_at=now, channel=channel)
    )
    return row, [OrderLine(**line) for line in line_rows(data)]
