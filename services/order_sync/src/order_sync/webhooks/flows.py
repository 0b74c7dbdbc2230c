"""A verified delivery's payload applied to the orders aggregate through its service."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_events.order import OrderSnapshot
from crm_events.shop import CanonicalOrder
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.connectors import shopify, woocommerce
from order_sync.connectors._fields import FieldProblem, PayloadError, parse_json_object
from order_sync.orders import parts
from order_sync.orders import service as orders
from order_sync.orders.events import order_id_for
from order_sync.orders.exceptions import InvalidOrder, OrderNotFound
from order_sync.orders.schemas import Channel, UpsertStatus
from order_sync.webhooks.schemas import Outcome

# Fields a stored snapshot adds to the canonical order it was made from.
_SNAPSHOT_ONLY = frozenset(OrderSnapshot.model_fields) - frozenset(CanonicalOrder.model_fields)
# The smallest step that makes one stored time newer than another.
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Applied:
    outcome: Outcome
    order_id: str | None = None
    detail: str | None = None


async def apply_shopify(
    *, session: AsyncSession, store_id: str, body: bytes, orders_topic: str
) -> Applied:
    """Apply a Shopify `orders/*` delivery; raises `PayloadError` when it does not map."""
    order = shopify.order_from_payload(parse_json_object(body), store_id=store_id)
    # Shopify's order payloads list no transactions: those order_transactions/create stored
    # stay with the order.
    order = await parts.with_stored_payments(session=session, order=order)
    return await _upsert(session, order, orders_topic=orders_topic)


async def apply_woocommerce(
    *,
    session: AsyncSession,
    store_id: str,
    topic: str,
    body: bytes,
    received_at: datetime,
    orders_topic: str,
) -> Applied:
    """Apply a WooCommerce `order.*` delivery; raises `PayloadError` when it does not map."""
    payload = parse_json_object(body)
    if topic == woocommerce.DELETED_TOPIC:
        external_id = woocommerce.deleted_order_external_id(payload)
        stored = await _stored(session, store_id, external_id)
        if stored is None:
            return Applied(
                Outcome.IGNORED, detail=f"order {external_id} was never stored: nothing to cancel"
            )
        return await _upsert(session, _deleted(stored, at=received_at), orders_topic=orders_topic)

    order = woocommerce.order_from_payload(payload, store_id=store_id)
    restored = topic == woocommerce.RESTORED_TOPIC
    if restored or order.cancelled_at is not None:
        stored = await _stored(session, store_id, order.external_id)
        if stored is not None:
            order = _against_stored(order, stored, restored=restored)
    return await _upsert(session, order, orders_topic=orders_topic)


def _deleted(stored: OrderSnapshot, *, at: datetime) -> CanonicalOrder:
    # A deleted (or trashed) order is kept, cancelled: its history and events stay true. The
    # payload says nothing but the id, so the change is dated when it arrived, and never
    # before the stored revision (the shop's clock and ours may disagree).
    changed_at = max(at, _revision(stored) + _TICK)
    order = CanonicalOrder.model_validate(stored.model_dump(exclude=set(_SNAPSHOT_ONLY)))
    return order.model_copy(
        update={"cancelled_at": stored.cancelled_at or changed_at, "updated_at": changed_at}
    )


def _against_stored(
    order: CanonicalOrder, stored: OrderSnapshot, *, restored: bool
) -> CanonicalOrder:
    update: dict[str, datetime | None] = {}
    if order.cancelled_at is not None and stored.cancelled_at is not None:
        # WooCommerce has no cancellation time (the mapping takes the last modification):
        # the first one stored stays.
        update["cancelled_at"] = stored.cancelled_at
    if restored:
        # The restored order is the shop's current state, newer than the deletion recorded at
        # our clock, even when WooCommerce's modification time did not move.
        update["updated_at"] = max(_revision(order), _revision(stored) + _TICK)
    return order.model_copy(update=update) if update else order


async def _stored(session: AsyncSession, store_id: str, external_id: str) -> OrderSnapshot | None:
    try:
        return await orders.get_order(session=session, order_id=order_id_for(store_id, external_id))
    except OrderNotFound:
        return None


def _revision(order: CanonicalOrder) -> datetime:
    return order.updated_at or order.placed_at


async def _upsert(session: AsyncSession, order: CanonicalOrder, *, orders_topic: str) -> Applied:
    try:
        outcome = await orders.upsert_order(
            session=session, order=order, topic=orders_topic, channel=Channel.WEBHOOK
        )
    except InvalidOrder as error:
        # Refused before anything was written: a payload problem like any other.
        raise PayloadError(
            [FieldProblem(f"canonical.{e['field']}", e["message"]) for e in error.errors or []]
        ) from error
    if outcome.status == UpsertStatus.UNCHANGED:
        return Applied(
            Outcome.UNCHANGED,
            outcome.order_id,
            f"order {order.external_id} is no newer than version {outcome.version}",
        )
    events = ", ".join(outcome.events)
    return Applied(
        Outcome.APPLIED,
        outcome.order_id,
        f"order {order.external_id} {outcome.status.value} as version {outcome.version} ({events})",
    )
