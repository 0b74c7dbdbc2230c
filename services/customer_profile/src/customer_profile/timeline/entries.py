"""What a timeline entry says, built from an order snapshot or a consumed event.

Entries copy summary fields and references from a fixed list of names, never free text (subject
lines, bodies, notes, URLs, search terms) or contact data: the profile shows those where it
shows them at all, and erasure then has nothing to find here.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from crm_common.envelope import CloudEvent
from crm_events.order import OrderSnapshot
from crm_events.shop import FinancialStatus, FulfillmentStatus

ORDER_SOURCE = "order-sync"

# Ids an entry refers to, so a client can follow it to the order, ticket, message or cart.
REFERENCE_FIELDS = (
    "order_id",
    "ticket_id",
    "message_id",
    "campaign_id",
    "flow_id",
    "template_id",
    "experiment_id",
    "coupon_id",
    "cart_id",
    "checkout_id",
    "product_id",
    "variant_id",
)
# Scalar facts worth a line in the timeline; anything else in the event is left out.
SUMMARY_FIELDS = (
    "channel",
    "status",
    "priority",
    "category",
    "rating",
    "score",
    "sku",
    "product_name",
    "quantity",
    "item_count",
    "subtotal",
    "total",
    "currency",
    "coupon_code",
)
_MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class Draft:
    """An entry before it is stored (and before anyone knows whose it is, for activity)."""

    source_key: str
    occurred_at: datetime
    kind: str
    source: str
    reference: dict[str, str]
    summary: dict[str, Any] = field(default_factory=dict)
    source_event_id: str | None = None
    order_id: str | None = None


class Milestone(StrEnum):
    PLACED = "order.placed"
    PAID = "order.paid"
    FULFILLED = "order.fulfilled"
    CANCELLED = "order.cancelled"
    PARTIALLY_REFUNDED = "order.partially_refunded"
    REFUNDED = "order.refunded"


_CAPTURED = frozenset(
    {FinancialStatus.PAID, FinancialStatus.PARTIALLY_REFUNDED, FinancialStatus.REFUNDED}
)


def milestones(order: OrderSnapshot) -> list[tuple[Milestone, datetime]]:
    """Every milestone the order has reached, in lifecycle order, each with when it happened as
    far as the snapshot tells (`placed_at`, `cancelled_at`, else the shop's `updated_at`).

    Derived from the state, not from the event type, so skipped or reordered snapshots (or one
    event standing for several transitions) still give each milestone exactly once.
    """
    changed_at = order.updated_at or order.placed_at
    reached = [(Milestone.PLACED, order.placed_at)]
    if order.financial_status in _CAPTURED:
        reached.append((Milestone.PAID, changed_at))
    if order.fulfillment_status == FulfillmentStatus.FULFILLED:
        reached.append((Milestone.FULFILLED, changed_at))
    if order.cancelled_at is not None:
        reached.append((Milestone.CANCELLED, order.cancelled_at))
    if order.financial_status == FinancialStatus.PARTIALLY_REFUNDED:
        reached.append((Milestone.PARTIALLY_REFUNDED, changed_at))
    if order.financial_status == FinancialStatus.REFUNDED:
        reached.append((Milestone.REFUNDED, changed_at))
    return reached


def order_drafts(order: OrderSnapshot) -> list[Draft]:
    """One draft per milestone of `order`, each with the order's figures as of this snapshot."""
    summary = {
        "total": _money(order.total),
        "net_paid": _money(order.net_paid),
        "refunded_total": _money(order.refunded_total),
        "currency": order.currency,
        "financial_status": order.financial_status.value,
        "fulfillment_status": order.fulfillment_status.value,
        "items": sum(line.quantity for line in order.lines),
    }
    reference = {
        "order_id": order.order_id,
        "store_id": order.store_id,
        "external_id": order.external_id,
    }
    return [
        Draft(
            source_key=f"order:{order.order_id}:{milestone.value}",
            occurred_at=at,
            kind=milestone.value,
            source=ORDER_SOURCE,
            reference=reference,
            summary=summary,
            order_id=order.order_id,
        )
        for milestone, at in milestones(order)
    ]


def event_draft(
    event: CloudEvent[dict[str, Any]], *, extra: Mapping[str, str] | None = None
) -> Draft:
    """The entry of one consumed event: its type without the `crm.`/`shop.` prefix as kind, its
    source and time, and the listed references and summary fields found in its data."""
    data = event.data
    reference = {
        name: str(data[name]) for name in REFERENCE_FIELDS if _is_id(data.get(name))
    } | dict(extra or {})
    summary = {
        name: _scalar(data[name]) for name in SUMMARY_FIELDS if _scalar(data.get(name)) is not None
    }
    return Draft(
        source_key=event.id,
        occurred_at=event.time,
        kind=kind_of(event.type),
        source=event.source,
        reference=reference,
        summary=summary,
        source_event_id=event.id,
    )


def kind_of(event_type: str) -> str:
    """`crm.ticket.created` -> `ticket.created`; `shop.product.viewed` -> `product.viewed`."""
    _, _, rest = event_type.partition(".")
    return rest or event_type


def _is_id(value: Any) -> bool:
    # bool is an int; a float id has already lost digits (Shopify ids exceed 2^53).
    return (isinstance(value, str) and bool(value.strip())) or (
        isinstance(value, int) and not isinstance(value, bool)
    )


def _scalar(value: Any) -> str | int | bool | None:
    # Floats are left out: amounts travel as decimal strings, and a float would pass as one.
    if isinstance(value, str):
        return value[:_MAX_TEXT] if value.strip() else None
    if isinstance(value, bool | int):
        return value
    return None


def _money(value: Decimal) -> str:
    return format(value, "f")
