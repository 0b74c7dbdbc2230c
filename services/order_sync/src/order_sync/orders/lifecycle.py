"""Which lifecycle events a stored change of an order owes: a pure function of two states."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_events.shop import CanonicalOrder, FinancialStatus, FulfillmentStatus


class OrderEventType(StrEnum):
    PLACED = "crm.order.placed"
    PAID = "crm.order.paid"
    FULFILLED = "crm.order.fulfilled"
    CANCELLED = "crm.order.cancelled"
    PARTIALLY_REFUNDED = "crm.order.partially_refunded"
    REFUNDED = "crm.order.refunded"
    UPDATED = "crm.order.updated"


# Money not (or no longer) captured; an order leaving one of these for `paid` has been paid.
_NOT_CAPTURED = frozenset(
    {FinancialStatus.PENDING, FinancialStatus.AUTHORIZED, FinancialStatus.VOIDED}
)


@dataclass(frozen=True, slots=True)
class LifecycleState:
    """The parts of an order its lifecycle events are decided on."""

    financial_status: FinancialStatus
    fulfillment_status: FulfillmentStatus
    cancelled_at: datetime | None

    @classmethod
    def of(cls, order: CanonicalOrder) -> "LifecycleState":
        return cls(order.financial_status, order.fulfillment_status, order.cancelled_at)


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
        if current.cancelled_at is not None:
            events.append(OrderEventType.CANCELLED)
        if current.financial_status == FinancialStatus.PARTIALLY_REFUNDED:
            events.append(OrderEventType.PARTIALLY_REFUNDED)
        if current.financial_status == FinancialStatus.REFUNDED:
            events.append(OrderEventType.REFUNDED)
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
    return events or [OrderEventType.UPDATED]
