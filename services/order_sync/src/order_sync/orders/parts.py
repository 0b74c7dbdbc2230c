"""Records a shop sends apart from their order (a Shopify refund, fulfilment or transaction),
merged into the stored order and stored as its next revision, with the same rules and events as
any other.

A part never moves the order backwards: a record already stored is only replaced by a newer
state of it (a shipment by a later `updated_at`, a refund, return or payment never by a less
advanced status), the refunded total and the fulfilment status only grow, and the merged revision
is dated after the stored one (at the part's own time when that is later).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from crm_events.order_records import (
    Payment,
    PaymentStatus,
    Refund,
    Return,
    Shipment,
    ShipmentStatus,
    record_key,
    refunded_amount,
)
from crm_events.shop import CanonicalOrder, FinancialStatus, FulfillmentStatus, OrderLine
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.orders import repository, service
from order_sync.orders.events import order_id_for
from order_sync.orders.schemas import Channel, UpsertStatus
from order_sync.orders.service import UpsertOutcome

# The smallest step that makes one stored time newer than another.
_TICK = timedelta(microseconds=1)
_FULFILMENT_RANK = {
    FulfillmentStatus.UNFULFILLED: 0,
    FulfillmentStatus.PARTIAL: 1,
    FulfillmentStatus.FULFILLED: 2,
}

RecordT = TypeVar("RecordT", Refund, Shipment, Return, Payment)


@dataclass(frozen=True, slots=True)
class OrderPart:
    """Records of one order that a shop sent apart from the order."""

    store_id: str
    order_external_id: str
    at: datetime | None
    """When the shop last changed them, for ordering against the stored order."""
    refunds: tuple[Refund, ...] = ()
    shipments: tuple[Shipment, ...] = ()
    returns: tuple[Return, ...] = ()
    payments: tuple[Payment, ...] = ()


async def apply_part(
    *, session: AsyncSession, part: OrderPart, topic: str, channel: Channel | None
) -> UpsertOutcome | None:
    """Merge `part` into its stored order and store the result (`upsert_order`), staging the
    events it owes on `topic`. None when the order is not stored: nothing is done."""
    order_id = order_id_for(part.store_id, part.order_external_id)
    row = await repository.lock(session=session, order_id=order_id)
    if row is None:
        return None
    revision = merged(CanonicalOrder.model_validate(row.body), part)
    if revision is None:
        return UpsertOutcome(order_id, UpsertStatus.UNCHANGED, row.version)
    return await service.upsert_order(session=session, order=revision, topic=topic, channel=channel)


def merged(stored: CanonicalOrder, part: OrderPart) -> CanonicalOrder | None:
    """`stored` with `part` merged in, as a newer revision; None when the part adds nothing."""
    refunds = _merge(stored.refunds, part.refunds, _refund_advances)
    shipments = _merge(stored.shipments, part.shipments, _shipment_advances)
    returns = _merge(stored.returns, part.returns, _return_advances)
    payments = _merge(stored.payments, part.payments, _payment_advances)
    if (refunds, shipments, returns, payments) == (
        stored.refunds,
        stored.shipments,
        stored.returns,
        stored.payments,
    ):
        return None
    refunded = max(stored.refunded_total, refunded_amount(refunds, currency=stored.currency))
    fulfilment = max(
        stored.fulfillment_status,
        fulfilment_of(stored.lines, shipments),
        key=_FULFILMENT_RANK.__getitem__,
    )
    previous_at = stored.updated_at or stored.placed_at
    changes: dict[str, Any] = {
        "refunds": refunds,
        "shipments": shipments,
        "returns": returns,
        # Payments move neither the refunded total (refunds do, with their lines) nor the
        # financial status, which the shop's own orders/* revision states.
        "payments": payments,
        "refunded_total": refunded,
        "financial_status": _financial(stored.financial_status, refunded, stored.total),
        "fulfillment_status": fulfilment,
        "updated_at": max(previous_at + _TICK, part.at or previous_at),
    }
    return stored.model_copy(update=changes)


async def with_stored_payments(*, session: AsyncSession, order: CanonicalOrder) -> CanonicalOrder:
    """`order` with the payments of its stored revision merged in, its row locked until the
    transaction ends.

    For a whole revision from a shop whose order payloads list no transactions (Shopify sends
    them apart): without them, storing it would drop the payments its parts added.
    """
    order_id = order_id_for(order.store_id, order.external_id)
    row = await repository.lock(session=session, order_id=order_id)
    if row is None or not row.body.get("payments"):
        return order
    stored = [Payment.model_validate(payment) for payment in row.body["payments"]]
    payments = _merge(stored, order.payments, _payment_advances)
    return order.model_copy(update={"payments": payments})


def fulfilment_of(lines: Sequence[OrderLine], shipments: Sequence[Shipment]) -> FulfillmentStatus:
    """What the shipments not cancelled cover of the order's lines: all of them (by the lines'
    ids and quantities), some, or none. Without line ids to match, a shipment means partial."""
    live = [s for s in shipments if s.status != ShipmentStatus.CANCELLED]
    if not live:
        return FulfillmentStatus.UNFULFILLED
    ordered = {line.external_id: line.quantity for line in lines if line.external_id}
    if len(ordered) != len(lines):
        return FulfillmentStatus.PARTIAL
    shipped = dict.fromkeys(ordered, 0)
    for shipment in live:
        for line in shipment.lines:
            if line.line_external_id in shipped:
                shipped[line.line_external_id] += line.quantity
    if all(shipped[key] >= quantity for key, quantity in ordered.items()):
        return FulfillmentStatus.FULFILLED
    return FulfillmentStatus.PARTIAL


def _financial(status: FinancialStatus, refunded: Decimal, total: Decimal) -> FinancialStatus:
    # Only money that was captured can be refunded; a refunded order stays refunded.
    if status in (FinancialStatus.PAID, FinancialStatus.PARTIALLY_REFUNDED) and refunded > 0:
        if refunded >= total:
            return FinancialStatus.REFUNDED
        return FinancialStatus.PARTIALLY_REFUNDED
    return status


def _merge(
    stored: list[RecordT], incoming: Sequence[RecordT], advances: Callable[[RecordT, RecordT], bool]
) -> list[RecordT]:
    """`stored` with each incoming record added, or put in place of the stored record with its
    key when it `advances` on it."""
    result = list(stored)
    keys = {
        record_key(position, record.external_id): position for position, record in enumerate(result)
    }
    for record in incoming:
        if record.external_id is None:
            if record not in result:
                result.append(record)
            continue
        position = keys.get(record.external_id)
        if position is None:
            keys[record.external_id] = len(result)
            result.append(record)
        elif result[position] != record and advances(result[position], record):
            result[position] = record
    return result


def _refund_advances(stored: Refund, incoming: Refund) -> bool:
    # A refund's status moves on from pending; a late copy never takes a success back.
    return stored.status != PaymentStatus.SUCCESS or incoming.status == PaymentStatus.SUCCESS


def _payment_advances(stored: Payment, incoming: Payment) -> bool:
    # A transaction settles once: a pending one becomes a success, failure or error, and a late
    # copy (pending again, or another settled state) never takes that back.
    return stored.status == PaymentStatus.PENDING and incoming.status != PaymentStatus.PENDING


def _shipment_advances(stored: Shipment, incoming: Shipment) -> bool:
    if stored.updated_at is None or incoming.updated_at is None:
        return incoming.updated_at is not None or stored.updated_at is None
    return incoming.updated_at > stored.updated_at


def _return_advances(stored: Return, incoming: Return) -> bool:
    return not stored.received or incoming.received
