"""Order lifecycle events that order-sync publishes on `crm.orders.v1`, keyed by order id.

Every event carries the whole order as stored after the change (`OrderSnapshot`), so a consumer
can upsert by `version` and ignore anything older than what it holds, whatever the arrival order.
"""

from typing import Any, Self, TypeVar

from crm_common.contracts import EventContract
from pydantic import Field

from crm_events.shop import CANONICAL_ORDER_EXAMPLE, CanonicalOrder
from crm_events.topics import CRM_ORDERS
from crm_events.types import Money, NonEmptyStr, OptionalCountry

__all__ = [
    "ORDER_CANCELLED",
    "ORDER_CONTRACTS",
    "ORDER_FULFILLED",
    "ORDER_PAID",
    "ORDER_PARTIALLY_REFUNDED",
    "ORDER_PLACED",
    "ORDER_REFUNDED",
    "ORDER_UPDATED",
    "OrderCancelled",
    "OrderFulfilled",
    "OrderPaid",
    "OrderPartiallyRefunded",
    "OrderPlaced",
    "OrderRefunded",
    "OrderSnapshot",
    "OrderUpdated",
]


class OrderSnapshot(CanonicalOrder):
    """An order as order-sync stores it: the canonical shop order plus our id and version."""

    order_id: NonEmptyStr
    """Our id for the order (the Kafka key and CloudEvent subject)."""
    net_paid: Money
    """What the customer has paid and not had refunded; see `CanonicalOrder.compute_net_paid`."""
    version: int = Field(ge=1)
    """Increases with every stored change of this order."""
    store_country: OptionalCountry = None
    """The store's country (ISO 3166-1 alpha-2): the default region for its phone numbers."""

    @classmethod
    def from_order(
        cls,
        order: CanonicalOrder,
        *,
        order_id: str,
        version: int,
        store_country: str | None = None,
    ) -> Self:
        """A snapshot of `order` (unknown fields included) with `net_paid` computed."""
        return cls.model_validate(
            {
                **order.model_dump(),
                "order_id": order_id,
                "net_paid": order.compute_net_paid(),
                "version": version,
                "store_country": store_country,
            }
        )


class OrderPlaced(OrderSnapshot):
    """An order was seen for the first time."""


class OrderPaid(OrderSnapshot):
    """An order's payment was captured (financial status became paid)."""


class OrderFulfilled(OrderSnapshot):
    """Every line of an order has shipped (fulfillment status became fulfilled)."""


class OrderCancelled(OrderSnapshot):
    """An order was cancelled (`cancelled_at` is set)."""


class OrderPartiallyRefunded(OrderSnapshot):
    """Part of an order's payment was refunded (financial status became partially_refunded)."""


class OrderRefunded(OrderSnapshot):
    """An order was refunded in full (financial status became refunded)."""


class OrderUpdated(OrderSnapshot):
    """An order changed in a way that is no lifecycle transition (address, note, tags, lines)."""


_ORDER_ID = "5b7f0d0c-3f1e-4f7a-9c55-2a4d3c0e9b61"
_PLACED = {
    **CANONICAL_ORDER_EXAMPLE,
    "financial_status": "pending",
    "order_id": _ORDER_ID,
    "net_paid": "0",
    "version": 1,
    "store_country": "US",
}
_PAID = {**CANONICAL_ORDER_EXAMPLE, "order_id": _ORDER_ID, "net_paid": "32.00", "version": 2}
_FULFILLED = {
    **_PAID,
    "fulfillment_status": "fulfilled",
    "updated_at": "2026-11-02T09:00:00Z",
    "version": 3,
}
_REFUNDED = {
    **_FULFILLED,
    "financial_status": "partially_refunded",
    "refunded_total": "12.50",
    "net_paid": "19.50",
    "updated_at": "2026-11-05T15:30:00Z",
    "version": 4,
}
_CANCELLED = {
    **_PLACED,
    "financial_status": "voided",
    "cancelled_at": "2026-11-01T11:00:00Z",
    "updated_at": "2026-11-01T11:00:00Z",
    "version": 2,
}
_UPDATED = {
    **_PAID,
    "note": "Leave at the door",
    "tags": ["gift"],
    "updated_at": "2026-11-01T12:00:00Z",
    "version": 3,
}


SnapshotT = TypeVar("SnapshotT", bound=OrderSnapshot)


def _contract(
    event_type: str, model: type[SnapshotT], example: dict[str, Any]
) -> EventContract[SnapshotT]:
    return EventContract(
        type=event_type,
        version=1,
        domain="order",
        model=model,
        topic=CRM_ORDERS,
        example=example,
        key="order_id",
        source="order-sync",
    )


ORDER_PLACED = _contract("crm.order.placed", OrderPlaced, _PLACED)
ORDER_PAID = _contract("crm.order.paid", OrderPaid, _PAID)
ORDER_FULFILLED = _contract("crm.order.fulfilled", OrderFulfilled, _FULFILLED)
ORDER_CANCELLED = _contract("crm.order.cancelled", OrderCancelled, _CANCELLED)
ORDER_REFUNDED = _contract("crm.order.refunded", OrderRefunded, _REFUNDED)
ORDER_PARTIALLY_REFUNDED = _contract(
    "crm.order.partially_refunded", OrderPartiallyRefunded, _REFUNDED
)
ORDER_UPDATED = _contract("crm.order.updated", OrderUpdated, _UPDATED)

ORDER_CONTRACTS: tuple[EventContract[Any], ...] = (
    ORDER_PLACED,
    ORDER_PAID,
    ORDER_FULFILLED,
    ORDER_CANCELLED,
    ORDER_REFUNDED,
    ORDER_UPDATED,
    ORDER_PARTIALLY_REFUNDED,
)
