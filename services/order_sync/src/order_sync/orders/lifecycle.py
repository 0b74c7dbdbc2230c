"""Which lifecycle events a stored change of an order owes: a pure function of two states."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_events.order_records import ShipmentStatus, record_key
from crm_events.shop import CanonicalOrder, FinancialStatus, FulfillmentStatus


class OrderEventType(StrEnum):
    PLACED = "crm.order.placed"
    PAID = "crm.order.paid"
    FULFILLED = "crm.order.fulfilled"
    SHIPMENT_UPDATED = "crm.order.shipment_updated"
    DELIVERED = "crm.order.delivered"
    CANCELLED = "crm.order.cancelled"
    PARTIALLY_REFUNDED = "crm.order.partially_refunded"
    REFUNDED = "crm.order.refunded"
    RETURNED = "crm.order.returned"
    UPDATED = "crm.order.updated"


# Money not (or no longer) captured; an order leaving one of these for `paid` has been paid.
_NOT_CAPTURED = frozenset(
    {FinancialStatus.PENDING, FinancialStatus.AUTHORIZED, FinancialStatus.VOIDED}
)


@dataclass(frozen=True, slots=True)
class ShipmentView:
    """What of a shipment is announced when it changes: its status, carrier and tracking."""

    key: str
    status: ShipmentStatus
    carrier: str | None = None
    tracking_numbers: tuple[str, ...] = ()
    tracking_urls: tuple[str, ...] = ()


_NO_SHIPMENTS: frozenset[ShipmentView] = frozenset()
_NO_RETURNS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class LifecycleState:
    """The parts of an order its lifecycle events are decided on."""

    financial_status: FinancialStatus
    fulfillment_status: FulfillmentStatus
    cancelled_at: datetime | None
    shipments: frozenset[ShipmentView] = _NO_SHIPMENTS
    received_returns: frozenset[str] = _NO_RETURNS
    """The keys (`crm_events.order_records.record_key`) of the returns received."""

    @classmethod
    def of(cls, order: CanonicalOrder) -> "LifecycleState":
        # Most orders carry no shipments or returns: skip building empty sets for them.
        shipments = _NO_SHIPMENTS
        if order.shipments:
            shipments = frozenset(
                ShipmentView(
                    record_key(position, s.external_id),
                    s.status,
                    s.carrier,
                    tuple(s.tracking_numbers),
                    tuple(s.tracking_urls),
                )
                for position, s in enumerate(order.shipments)
            )
        returns = _NO_RETURNS
        if order.returns:
            returns = frozenset(
                record_key(position, r.external_id)
                for position, r in enumerate(order.returns)
                if r.received
            )
        return cls(
            order.financial_status, order.fulfillment_status, order.cancelled_at, shipments, returns
        )

    @property
    def delivered(self) -> bool:
        """Every line shipped, and every shipment not cancelled (at least one) delivered."""
        if self.fulfillment_status != FulfillmentStatus.FULFILLED:
            return False
        live = [s.status for s in self.shipments if s.status != ShipmentStatus.CANCELLED]
        return bool(live) and all(status == ShipmentStatus.DELIVERED for status in live)


def lifecycle_events(
    previous: LifecycleState | None, current: LifecycleState
) -> list[OrderEventType]:
    """The events of one stored change, in the order they are published.

    `previous` is None for an order seen for the first time. The caller only asks when something
    was stored, so a change that is no transition is still announced, as `updated`.
    """
    if previous is None:
        events = [OrderEventType.PLACED]
        if current.financial_status == FinancialStatus.PAID:
            events.append(OrderEventType.PAID)
        if current.fulfillment_status == FulfillmentStatus.FULFILLED:
            events.append(OrderEventType.FULFILLED)
        if current.shipments:
            events.append(OrderEventType.SHIPMENT_UPDATED)
        if current.delivered:
            events.append(OrderEventType.DELIVERED)
        if current.cancelled_at is not None:
            events.append(OrderEventType.CANCELLED)
        if current.financial_status == FinancialStatus.PARTIALLY_REFUNDED:
            events.append(OrderEventType.PARTIALLY_REFUNDED)
        if current.financial_status == FinancialStatus.REFUNDED:
            events.append(OrderEventType.REFUNDED)
        if current.received_returns:
            events.append(OrderEventType.RETURNED)
        return events
    events = []
    if (
        current.financial_status == FinancialStatus.PAID
        and previous.financial_status in _NOT_CAPTURED
    ):
        events.append(OrderEventType.PAID)
    if (
        current.fulfillment_status == FulfillmentStatus.FULFILLED
        and previous.fulfillment_status != FulfillmentStatus.FULFILLED
    ):
        events.append(OrderEventType.FULFILLED)
    # A shipment that is new, or whose status, carrier or tracking differs; one event for all
    # of them (the snapshot shows which). One that disappeared is only an `updated`.
    if not current.shipments <= previous.shipments:
        events.append(OrderEventType.SHIPMENT_UPDATED)
    if current.delivered and not previous.delivered:
        events.append(OrderEventType.DELIVERED)
    if current.cancelled_at is not None and previous.cancelled_at is None:
        events.append(OrderEventType.CANCELLED)
    # A further partial refund keeps the status, so it is an `updated` with a larger
    # refunded_total rather than a second transition.
    if (
        current.financial_status == FinancialStatus.PARTIALLY_REFUNDED
        and previous.financial_status != FinancialStatus.PARTIALLY_REFUNDED
    ):
        events.append(OrderEventType.PARTIALLY_REFUNDED)
    if (
        current.financial_status == FinancialStatus.REFUNDED
        and previous.financial_status != FinancialStatus.REFUNDED
    ):
        events.append(OrderEventType.REFUNDED)
    if not current.received_returns <= previous.received_returns:
        events.append(OrderEventType.RETURNED)
    return events or [OrderEventType.UPDATED]
