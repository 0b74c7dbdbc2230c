"""The stock rules as pure functions: which movement an order's change owes, and when a level
crosses its low-stock threshold."""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from crm_events.inventory import StockChangeReason
from crm_events.shop import CanonicalOrder, FinancialStatus

# Once the money was captured the goods are sold, whatever was refunded since.
_CAPTURED = frozenset(
    {FinancialStatus.PAID, FinancialStatus.PARTIALLY_REFUNDED, FinancialStatus.REFUNDED}
)
# The order flow publishes this type for a return (issue 3); a returned order gives its goods
# back once, like a cancelled one.
RETURNED_EVENT = "crm.order.returned"

Lines = tuple[tuple[str, int], ...]
"""(sku, quantity) pairs, one per SKU."""


class MovementKind(StrEnum):
    SALE = StockChangeReason.ORDER_PAID.value
    CANCEL = StockChangeReason.ORDER_CANCELLED.value
    RETURN = StockChangeReason.ORDER_RETURNED.value


RESTOCKS = frozenset({MovementKind.CANCEL, MovementKind.RETURN})


@dataclass(frozen=True, slots=True)
class OrderStock:
    """What the stock rules need of an order as stored after one change."""

    order_id: str
    store_id: str
    lines: Lines
    captured: bool
    cancelled: bool
    returned: bool

    @classmethod
    def of(cls, order: CanonicalOrder, *, order_id: str, events: Iterable[str]) -> "OrderStock":
        """`events` are the lifecycle event types the change published."""
        return cls(
            order_id=order_id,
            store_id=order.store_id,
            lines=sku_lines((line.sku, line.quantity) for line in order.lines),
            captured=order.financial_status in _CAPTURED,
            cancelled=order.cancelled_at is not None,
            returned=RETURNED_EVENT in events,
        )


def sku_lines(lines: Iterable[tuple[str | None, int]]) -> Lines:
    """Quantities summed per SKU, in first-seen order; lines without a SKU are left out."""
    totals: dict[str, int] = {}
    for sku, quantity in lines:
        if sku:
            totals[sku] = totals.get(sku, 0) + quantity
    return tuple(totals.items())


def due_movement(order: OrderStock, recorded: Collection[MovementKind]) -> MovementKind | None:
    """The movement `order`'s current state owes, given the ones already recorded for it.

    The sale comes when the money is captured, unless the order is already cancelled or
    returned by then (it never took any stock). A cancel or return gives the sale back, and only
    one of them ever does. Asking again after recording the answer gives None, so a duplicate or
    replayed transition moves nothing.
    """
    if MovementKind.SALE not in recorded:
        if order.captured and not order.cancelled and not order.returned and order.lines:
            return MovementKind.SALE
        return None
    if RESTOCKS & set(recorded):
        return None
    if order.cancelled:
        return MovementKind.CANCEL
    if order.returned:
        return MovementKind.RETURN
    return None


def signed(kind: MovementKind, lines: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """The change each line makes to its level: a sale takes, a restock gives back."""
    sign = -1 if kind is MovementKind.SALE else 1
    return [(sku, sign * quantity) for sku, quantity in lines]


def is_low(quantity: int, threshold: int | None) -> bool:
    """At or below the threshold; never low without one."""
    return threshold is not None and quantity <= threshold


def crossed_low(before: tuple[int, int | None] | None, after: tuple[int, int | None]) -> bool:
    """Whether a change from `before` to `after` (quantity, threshold) makes the level low when
    it was not: announced once per crossing, not on every change while it stays low. A level
    set for the first time (`before` None) crosses when it starts out low."""
    was_low = before is not None and is_low(*before)
    return is_low(*after) and not was_low
