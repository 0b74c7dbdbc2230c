"""The stock rules as pure functions: which movements an order's change owes, how much a restock
gives back, and when a level crosses its low-stock threshold."""

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from crm_events.inventory import StockChangeReason
from crm_events.order_records import RefundLine, ReturnLine, record_key
from crm_events.shop import CanonicalOrder, FinancialStatus

# Once the money was captured the goods are sold, whatever was refunded since.
_CAPTURED = frozenset(
    {FinancialStatus.PAID, FinancialStatus.PARTIALLY_REFUNDED, FinancialStatus.REFUNDED}
)

Lines = tuple[tuple[str, int], ...]
"""(sku, quantity) pairs, one per SKU."""


class MovementKind(StrEnum):
    SALE = StockChangeReason.ORDER_PAID.value
    CANCEL = StockChangeReason.ORDER_CANCELLED.value
    RETURN = StockChangeReason.ORDER_RETURNED.value


RESTOCKS = frozenset({MovementKind.CANCEL, MovementKind.RETURN})

Movement = tuple[MovementKind, str]
"""A movement's kind and reference: the return's key for a return, `refund:` and the refund's
key for units a refund restocked, "" for the sale and the order's cancel. An order gets each
(kind, reference) at most once."""
REFUND_REF = "refund:"
SALE: Movement = (MovementKind.SALE, "")
CANCEL: Movement = (MovementKind.CANCEL, "")


@dataclass(frozen=True, slots=True)
class OrderStock:
    """What the stock rules need of an order as stored after one change."""

    order_id: str
    store_id: str
    lines: Lines
    captured: bool
    cancelled: bool
    restocks: tuple[tuple[Movement, Lines], ...] = ()
    """What came back to the shelf, each with the movement it owes: every return received, and
    every refund's lines the shop restocked with the refund itself (units cancelled before
    they shipped)."""

    @classmethod
    def of(cls, order: CanonicalOrder, *, order_id: str) -> "OrderStock":
        return cls(
            order_id=order_id,
            store_id=order.store_id,
            lines=sku_lines((line.sku, line.quantity) for line in order.lines),
            captured=order.financial_status in _CAPTURED,
            cancelled=order.cancelled_at is not None,
            restocks=restocks(order) if order.returns or order.refunds else (),
        )


def restocks(order: CanonicalOrder) -> tuple[tuple[Movement, Lines], ...]:
    """Each received return's and each restocking refund's movement and lines, returns first;
    a line without a SKU takes the SKU of the order line it names."""
    skus = {line.external_id: line.sku for line in order.lines if line.external_id is not None}

    def lines_of(lines: Iterable[ReturnLine | RefundLine]) -> Lines:
        return sku_lines(
            (line.sku or skus.get(line.line_external_id or ""), line.quantity) for line in lines
        )

    returned = [
        ((MovementKind.RETURN, record_key(position, item.external_id)), lines_of(item.lines))
        for position, item in enumerate(order.returns)
        if item.received
    ]
    cancelled = [
        (
            (MovementKind.CANCEL, REFUND_REF + record_key(position, refund.external_id)),
            lines_of(line for line in refund.lines if line.restocked and line.quantity),
        )
        for position, refund in enumerate(order.refunds)
        # A refund line may count no unit (an amount refunded alone): nothing to put back.
        if any(line.restocked and line.quantity for line in refund.lines)
    ]
    return tuple(returned + cancelled)


def sku_lines(lines: Iterable[tuple[str | None, int]]) -> Lines:
    """Quantities summed per SKU, in first-seen order; lines without a SKU are left out."""
    totals: dict[str, int] = {}
    for sku, quantity in lines:
        if sku:
            totals[sku] = totals.get(sku, 0) + quantity
    return tuple(totals.items())


def due_movements(order: OrderStock, recorded: Collection[Movement]) -> list[Movement]:
    """The movements `order`'s current state owes, given those already recorded for it, in the
    order they apply.

    The sale comes when the money is captured, unless the order is already cancelled by then
    (it never took any stock). Then each received return and each restocking refund gives its
    lines back, and a cancel gives back whatever they left. Asking again after recording the
    answer gives nothing, so a duplicate or replayed transition moves nothing.
    """
    due: list[Movement] = []
    if SALE not in recorded:
        if not (order.captured and not order.cancelled and order.lines):
            return due
        due.append(SALE)
    if CANCEL in recorded:
        return due  # everything sold is back already
    due.extend(movement for movement, _ in order.restocks if movement not in recorded)
    if order.cancelled:
        due.append(CANCEL)
    return due


def restock(sold: Lines, restocked: Iterable[Lines], wanted: Lines | None) -> Lines:
    """What a restock gives back: `wanted` (None for everything) but never more of a SKU than
    the sale took less what earlier restocks gave back."""
    left = dict(sold)
    for lines in restocked:
        for sku, quantity in lines:
            if sku in left:
                left[sku] -= quantity
    asked = left.items() if wanted is None else ((sku, q) for sku, q in wanted if sku in left)
    return tuple((sku, min(quantity, left[sku])) for sku, quantity in asked if left[sku] > 0)


def signed(kind: MovementKind, lines: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """The change each line makes to its level: a sale takes, a restock gives back."""
    sign = -1 if kind is MovementKind.SALE else 1
    return [(sku, sign * quantity) for sku, quantity in lines]


def restocked_lines(order: OrderStock, movement: Movement) -> Lines | None:
    """The lines `movement` gives back: a return's or a refund's own; None for the order's
    cancel, which gives back whatever is left."""
    if movement == CANCEL:
        return None
    return dict(order.restocks).get(movement, ())


def is_low(quantity: int, threshold: int | None) -> bool:
    """At or below the threshold; never low without one."""
    return threshold is not None and quantity <= threshold


def crossed_low(before: tuple[int, int | None] | None, after: tuple[int, int | None]) -> bool:
    """Whether a change from `before` to `after` (quantity, threshold) makes the level low when
    it was not: announced once per crossing, not on every change while it stays low. A level
    set for the first time (`before` None) crosses when it starts out low."""
    was_low = before is not None and is_low(*before)
    return is_low(*after) and not was_low


def restocked_so_far(recorded: Mapping[Movement, Lines]) -> list[Lines]:
    """The lines every recorded restock gave back."""
    return [lines for (kind, _), lines in recorded.items() if kind in RESTOCKS]
