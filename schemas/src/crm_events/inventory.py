"""Stock events that order-sync publishes on `crm.inventory.v1`.

A stock level belongs to one store and one SKU. Two shops may sell different things under the
same SKU, so the key (and CloudEvent `subject`) is `stock_id` = `<store_id>:<sku>` (a store id
never contains `:`); all events of one level stay in order on one partition. Each event carries
the level's `version`, which grows with every change: keep the highest.
"""

from enum import StrEnum
from typing import Any

from crm_common.contracts import EventContract
from pydantic import Field

from crm_events._base import ContractModel
from crm_events.topics import CRM_INVENTORY
from crm_events.types import NonEmptyStr, UtcDatetime

__all__ = [
    "INVENTORY_CONTRACTS",
    "LOW_STOCK",
    "STOCK_CHANGED",
    "LowStock",
    "StockChangeReason",
    "StockChanged",
    "StockLevel",
]


class StockChangeReason(StrEnum):
    ORDER_PAID = "order_paid"
    """An order's payment was captured: its lines left the stock."""
    ORDER_CANCELLED = "order_cancelled"
    """A paid order was cancelled, or some of its units were (a refund restocked them): what
    they took came back."""
    ORDER_RETURNED = "order_returned"
    """A paid order was returned: what it took came back."""
    MANUAL = "manual"
    """Someone set the level (a stock count)."""


class StockLevel(ContractModel):
    """The level of one SKU in one store, after a change."""

    stock_id: NonEmptyStr
    """`<store_id>:<sku>`: the Kafka key and CloudEvent subject."""
    store_id: NonEmptyStr
    sku: NonEmptyStr
    quantity: int
    """Units on hand; below zero when more was sold than was in stock (oversold)."""
    previous: int | None = None
    """The quantity before this change; null when the level was first set by it."""
    low_stock_threshold: int | None = Field(default=None, ge=0)
    """At or below this quantity the SKU is low on stock; null when no threshold is set."""
    reason: StockChangeReason
    order_id: str | None = None
    """The order that moved the stock (order-sync's id); null for a manual change."""
    version: int = Field(ge=1)
    """Grows with every change of this level."""
    changed_at: UtcDatetime


class StockChanged(StockLevel):
    """The level of a SKU in a store changed: its quantity (sold, restocked, counted) or its
    low-stock threshold."""


class LowStock(StockLevel):
    """A SKU's quantity fell to or below its low-stock threshold. Announced once per crossing:
    further changes while it stays low announce nothing until it has risen above the threshold
    again."""


_MANUAL: dict[str, Any] = {
    "stock_id": "demo:MUG-1",
    "store_id": "demo",
    "sku": "MUG-1",
    "quantity": 40,
    "previous": None,
    "low_stock_threshold": 5,
    "reason": "manual",
    "order_id": None,
    "version": 1,
    "changed_at": "2026-11-01T08:00:00Z",
}
_LOW: dict[str, Any] = {
    **_MANUAL,
    "quantity": 4,
    "previous": 6,
    "reason": "order_paid",
    "order_id": "5b7f0d0c-3f1e-4f7a-9c55-2a4d3c0e9b61",
    "version": 7,
    "changed_at": "2026-11-01T10:05:00Z",
}


def _contract(event_type: str, model: type[Any], example: dict[str, Any]) -> EventContract[Any]:
    return EventContract(
        type=event_type,
        version=1,
        domain="inventory",
        model=model,
        topic=CRM_INVENTORY,
        example=example,
        key="stock_id",
        source="order-sync",
    )


STOCK_CHANGED = _contract("crm.inventory.stock_changed", StockChanged, _MANUAL)
LOW_STOCK = _contract("crm.inventory.low_stock", LowStock, _LOW)

INVENTORY_CONTRACTS: tuple[EventContract[Any], ...] = (STOCK_CHANGED, LOW_STOCK)
