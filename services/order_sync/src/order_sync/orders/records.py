"""An order's payments, refunds, shipments and returns: their rows, and its net revenue.

The records travel inside the canonical order (its `payments`, `refunds`, `shipments` and
`returns`) and are stored beside its lines, replaced with every stored revision, each kind in
one multi-row statement for a whole batch of orders.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crm_events.order import OrderSnapshot
from crm_events.order_records import PaymentKind, PaymentStatus, paid_amount
from crm_events.shop import CanonicalOrder, FinancialStatus
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.orders import repository
from order_sync.orders.schemas import OrderNet, OrderRead

RECORD_FIELDS = ("payments", "refunds", "shipments", "returns")

_CAPTURED = frozenset(
    {FinancialStatus.PAID, FinancialStatus.PARTIALLY_REFUNDED, FinancialStatus.REFUNDED}
)
_TAKING = frozenset({PaymentKind.CAPTURE, PaymentKind.SALE})


def net_of(order: CanonicalOrder) -> OrderNet:
    """The net revenue of `order`, derived from its payments and refunds."""
    # Payments that took no money (an authorization, a refund, a pending attempt) say nothing
    # of what was paid: a shop sending its transactions apart may have sent only those so far.
    if any(p.kind in _TAKING and p.status == PaymentStatus.SUCCESS for p in order.payments):
        paid = paid_amount(order.payments, currency=order.currency)
    else:
        paid = order.total if order.financial_status in _CAPTURED else Decimal(0)
    return OrderNet(paid=paid, refunded=order.refunded_total, net=paid - order.refunded_total)


def read_model(order: OrderSnapshot) -> OrderRead:
    """The stored order as the API shows it, with its net revenue."""
    return OrderRead.model_validate({**order.model_dump(), "net": net_of(order)})


def holds_records(body: Mapping[str, Any] | None) -> bool:
    """Whether a stored body (the canonical order as JSON) lists any record, whose rows a new
    revision must then replace."""
    return body is not None and any(body.get(name) for name in RECORD_FIELDS)


async def store_records(
    *, session: AsyncSession, replaced: Sequence[str], written: Sequence[OrderSnapshot]
) -> None:
    """Drop the records of the orders `replaced` (those whose stored revision held some) and
    insert those of the revisions `written`: one statement per kind for all of them."""
    rows: dict[str, list[dict[str, Any]]] = {
        "order_payments": [],
        "order_refunds": [],
        "order_shipments": [],
        "order_returns": [],
    }
    for data in written:
        if data.payments or data.refunds or data.shipments or data.returns:
            _add_rows(rows, data)
    await repository.replace_record_rows(session=session, order_ids=replaced, rows=rows)


def _add_rows(rows: dict[str, list[dict[str, Any]]], data: OrderSnapshot) -> None:
    order_id, currency = data.order_id, data.currency
    rows["order_payments"].extend(
        {
            "order_id": order_id,
            "position": position,
            "external_id": p.external_id,
            "kind": p.kind.value,
            "status": p.status.value,
            "amount": p.amount,
            "currency": p.currency or currency,
            "gateway": p.gateway,
            "processed_at": p.processed_at,
            "parent_id": p.parent_id,
        }
        for position, p in enumerate(data.payments)
    )
    rows["order_refunds"].extend(
        {
            "order_id": order_id,
            "position": position,
            "external_id": r.external_id,
            "amount": r.amount,
            "currency": r.currency or currency,
            "gateway": r.gateway,
            "status": r.status.value,
            "processed_at": r.processed_at,
            "note": r.note,
            "restocked": r.restocked,
            "lines": [line.model_dump(mode="json") for line in r.lines],
        }
        for position, r in enumerate(data.refunds)
    )
    rows["order_shipments"].extend(
        {
            "order_id": order_id,
            "position": position,
            "external_id": s.external_id,
            "status": s.status.value,
            "carrier": s.carrier,
            "tracking_numbers": list(s.tracking_numbers),
            "tracking_urls": list(s.tracking_urls),
            "lines": [line.model_dump(mode="json") for line in s.lines],
            "shipped_at": s.shipped_at,
            "updated_at": s.updated_at,
            "delivered_at": s.delivered_at,
        }
        for position, s in enumerate(data.shipments)
    )
    rows["order_returns"].extend(
        {
            "order_id": order_id,
            "position": position,
            "external_id": r.external_id,
            "status": r.status.value,
            "lines": [line.model_dump(mode="json") for line in r.lines],
            "requested_at": r.requested_at,
            "received_at": r.received_at,
        }
        for position, r in enumerate(data.returns)
    )
