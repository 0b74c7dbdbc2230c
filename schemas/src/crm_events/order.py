"""Order lifecycle events that order-sync publishes on `crm.orders.v1`, keyed by order id.

Every event carries the whole order as stored after the change (`OrderSnapshot`), so a consumer
can upsert by `version` and ignore anything older than what it holds, whatever the arrival order.
"""

from typing import Any, Self, TypeVar, cast

from crm_common.contracts import EventContract
from pydantic import Field

from crm_events.shop import CANONICAL_ORDER_EXAMPLE, CanonicalOrder
from crm_events.topics import CRM_ORDERS
from crm_events.types import Money, NonEmptyStr, OptionalCountry

__all__ = [
    "ORDER_CANCELLED",
    "ORDER_CONTRACTS",
    "ORDER_DELIVERED",
    "ORDER_FULFILLED",
    "ORDER_PAID",
    "ORDER_PARTIALLY_REFUNDED",
    "ORDER_PLACED",
    "ORDER_REFUNDED",
    "ORDER_RETURNED",
    "ORDER_SHIPMENT_UPDATED",
    "ORDER_UPDATED",
    "OrderCancelled",
    "OrderDelivered",
    "OrderFulfilled",
    "OrderPaid",
    "OrderPartiallyRefunded",
    "OrderPlaced",
    "OrderRefunded",
    "OrderReturned",
    "OrderShipmentUpdated",
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
        # `order` is valid already and the added fields are ours: constructing without
        # validating again keeps a snapshot cheap for consumers storing thousands a second.
        fields = {
            **dict(order),  # unknown fields come along: iterating a model yields its extras
            "order_id": order_id,
            "net_paid": order.compute_net_paid(),
            "version": version,
            "store_country": store_country,
        }
        # The pydantic plugin types `model_construct` by the class it is written in.
        return cast(Self, cls.model_construct(**fields))


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


class OrderShipmentUpdated(OrderSnapshot):
    """A shipment of an order appeared, or its status, carrier or tracking changed."""


class OrderDelivered(OrderSnapshot):
    """Every line of an order has shipped and every shipment not cancelled is delivered."""


class OrderReturned(OrderSnapshot):
    """A return of some of an order's items was received (`returns[].status` received or
    closed); the items go back to stock."""


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
_SHIPMENT = {
    "external_id": "4417",
    "status": "in_transit",
    "carrier": "UPS",
    "tracking_numbers": ["1Z827WK74630"],
    "tracking_urls": ["https://www.ups.com/track?tracknum=1Z827WK74630"],
    "lines": [{"sku": "MUG-1", "quantity": 2}],
    "shipped_at": "2026-11-02T09:00:00Z",
    "updated_at": "2026-11-02T18:00:00Z",
}
_SHIPPED = {
    **_FULFILLED,
    "payments": [
        {
            "external_id": "tx-88",
            "kind": "sale",
            "status": "success",
            "amount": "32.00",
            "gateway": "shopify_payments",
            "processed_at": "2026-11-01T10:00:00Z",
        }
    ],
    "shipments": [_SHIPMENT],
    "updated_at": "2026-11-02T18:00:00Z",
    "version": 4,
}
_DELIVERED = {
    **_SHIPPED,
    "shipments": [
        {
            **_SHIPMENT,
            "status": "delivered",
            "updated_at": "2026-11-03T11:20:00Z",
            "delivered_at": "2026-11-03T11:20:00Z",
        }
    ],
    "updated_at": "2026-11-03T11:20:00Z",
    "version": 5,
}
_RETURNED = {
    **_DELIVERED,
    "financial_status": "partially_refunded",
    "refunds": [
        {
            "external_id": "r-9",
            "amount": "12.50",
            "gateway": "shopify_payments",
            "processed_at": "2026-11-08T14:00:00Z",
            "note": "Chipped",
            "lines": [{"sku": "MUG-1", "quantity": 1, "amount": "12.50"}],
            "restocked": True,
        }
    ],
    "refunded_total": "12.50",
    "net_paid": "19.50",
    "returns": [
        {
            "external_id": "ret-3",
            "status": "closed",
            "lines": [{"sku": "MUG-1", "quantity": 1, "reason": "defective"}],
            "requested_at": "2026-11-05T09:00:00Z",
            "received_at": "2026-11-08T13:30:00Z",
        }
    ],
    "updated_at": "2026-11-08T14:00:00Z",
    "version": 6,
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
ORDER_SHIPMENT_UPDATED = _contract("crm.order.shipment_updated", OrderShipmentUpdated, _SHIPPED)
ORDER_DELIVERED = _contract("crm.order.delivered", OrderDelivered, _DELIVERED)
ORDER_RETURNED = _contract("crm.order.returned", OrderReturned, _RETURNED)

ORDER_CONTRACTS: tuple[EventContract[Any], ...] = (
    ORDER_PLACED,
    ORDER_PAID,
    ORDER_FULFILLED,
    ORDER_CANCELLED,
    ORDER_REFUNDED,
    ORDER_UPDATED,
    ORDER_PARTIALLY_REFUNDED,
    ORDER_SHIPMENT_UPDATED,
    ORDER_DELIVERED,
    ORDER_RETURNED,
)
