"""What an order version contributes to the sales roll-ups, by Shopify's definitions of the
sales metrics: a sale counts on the day the order was placed, a refund (its returns) on the day
it was processed, a cancellation on the day it was cancelled."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from crm_events.order import OrderSnapshot
from crm_events.order_records import PaymentStatus, Refund, RefundLine
from crm_events.shop import FinancialStatus, OrderLine

ZERO = Decimal(0)
CENT = Decimal("0.01")


class SalesEntryRow(NamedTuple):
    """A `sales_entries` row."""

    order_id: str
    position: int
    store_id: str
    currency: str
    at: datetime
    orders: int
    refunded_orders: int
    gross_sales: Decimal
    discounts: Decimal
    returns: Decimal
    shipping: Decimal
    taxes: Decimal


class LineEntryRow(NamedTuple):
    """A `line_entries` row."""

    order_id: str
    position: int
    store_id: str
    currency: str
    at: datetime
    sku: str
    units: int
    gross_sales: Decimal
    discounts: Decimal
    returns: Decimal


class Written(NamedTuple):
    """How an order's fact just written differs from the one it replaced."""

    moved: bool
    """New, or placed, counted or bought otherwise: its buyers' histories change."""
    restated: bool
    """Its currency or net sales changed."""


@dataclass(frozen=True, slots=True)
class OrderEntries:
    counted: bool
    net_sales: Decimal
    sales: list[SalesEntryRow]
    lines: list[LineEntryRow]


def sku_of(line: OrderLine) -> str:
    """A line's SKU, or its name when the shop gave none."""
    return line.sku or line.name


def counted_refunds(snapshot: OrderSnapshot) -> list[Refund]:
    """The refunds that gave money back, in the order's currency."""
    return [
        refund
        for refund in snapshot.refunds
        if refund.status == PaymentStatus.SUCCESS and refund.currency in (None, snapshot.currency)
    ]


def order_discounts(snapshot: OrderSnapshot) -> Decimal:
    """The order's discounts: shops state them for the whole order (lines' included); the lines'
    own sum when that is larger, as some shops state only those."""
    on_lines = sum((line.discount_total or ZERO for line in snapshot.lines), ZERO)
    return max(snapshot.discount_total, on_lines)


def line_discounts(snapshot: OrderSnapshot, discounts: Decimal) -> list[Decimal]:
    """Each line's own discount plus its share, by gross, of the order's other discounts; the
    last line takes the rounding, so that the shares add up to `discounts`."""
    own = [line.discount_total or ZERO for line in snapshot.lines]
    rest = discounts - sum(own, ZERO)
    gross = [line.unit_price * line.quantity for line in snapshot.lines]
    total = sum(gross, ZERO)
    shares: list[Decimal] = []
    for index, line_gross in enumerate(gross):
        if index == len(gross) - 1:
            shares.append(rest - sum(shares, ZERO))
        elif total:
            shares.append((rest * line_gross / total).quantize(CENT, ROUND_HALF_UP))
        else:
            shares.append(ZERO)
    return [mine + share for mine, share in zip(own, shares, strict=True)]


def _matching_line(lines: Sequence[OrderLine], refunded: RefundLine) -> int | None:
    for index, line in enumerate(lines):
        if refunded.line_external_id is not None:
            if line.external_id == refunded.line_external_id:
                return index
        elif refunded.sku is not None and line.sku == refunded.sku:
            return index
    return None


def order_entries(snapshot: OrderSnapshot) -> OrderEntries:
    """The dated amounts of an order version. An order voided (cancelled before payment)
    counts for nothing; any other, cancelled or not, counts as a sale when placed."""
    if snapshot.financial_status == FinancialStatus.VOIDED:
        return OrderEntries(counted=False, net_sales=ZERO, sales=[], lines=[])
    order_id, store_id, currency = snapshot.order_id, snapshot.store_id, snapshot.currency
    gross = sum((line.unit_price * line.quantity for line in snapshot.lines), ZERO)
    discounts = order_discounts(snapshot)
    refunds = counted_refunds(snapshot)
    returned = [(refund.processed_at or snapshot.placed_at, refund.amount) for refund in refunds]
    if snapshot.cancelled_at is not None:
        # A cancellation takes back whatever of the sale the refunds had not.
        charged = gross - discounts + snapshot.shipping_total + snapshot.tax_total
        rest = charged - sum((amount for _, amount in returned), ZERO)
        if rest > 0:
            returned.append((snapshot.cancelled_at, rest))
    total_returns = sum((amount for _, amount in returned), ZERO)
    sales = [
        SalesEntryRow(
            order_id,
            0,
            store_id,
            currency,
            snapshot.placed_at,
            1,
            1 if total_returns > 0 else 0,
            gross,
            discounts,
            ZERO,
            snapshot.shipping_total,
            snapshot.tax_total,
        )
    ]
    sales += [
        SalesEntryRow(
            order_id, position, store_id, currency, at, 0, 0, ZERO, ZERO, amount, ZERO, ZERO
        )
        for position, (at, amount) in enumerate(returned, start=1)
    ]
    return OrderEntries(
        counted=True,
        net_sales=gross - discounts - total_returns,
        sales=sales,
        lines=_line_entries(snapshot, discounts, refunds),
    )


def _line_entries(
    snapshot: OrderSnapshot, discounts: Decimal, refunds: Sequence[Refund]
) -> list[LineEntryRow]:
    order_id, store_id, currency = snapshot.order_id, snapshot.store_id, snapshot.currency
    lines = snapshot.lines
    nets = [
        line.unit_price * line.quantity - discount
        for line, discount in zip(lines, line_discounts(snapshot, discounts), strict=True)
    ]
    rows = [
        LineEntryRow(
            order_id,
            index,
            store_id,
            currency,
            snapshot.placed_at,
            sku_of(line),
            line.quantity,
            line.unit_price * line.quantity,
            line.unit_price * line.quantity - net,
            ZERO,
        )
        for index, (line, net) in enumerate(zip(lines, nets, strict=True))
    ]
    units_back = [0] * len(lines)
    money_back = [ZERO] * len(lines)
    for refund in refunds:
        at = refund.processed_at or snapshot.placed_at
        for refunded in refund.lines:
            index = _matching_line(lines, refunded)
            if refunded.amount is not None:
                amount = refunded.amount
            elif index is not None:
                # Unstated: the line's net price of the units refunded.
                amount = (nets[index] * refunded.quantity / lines[index].quantity).quantize(
                    CENT, ROUND_HALF_UP
                )
            else:
                amount = ZERO
            if index is not None:
                units_back[index] += refunded.quantity
                money_back[index] += amount
            sku = sku_of(lines[index]) if index is not None else refunded.sku or ""
            rows.append(
                LineEntryRow(
                    order_id,
                    len(rows),
                    store_id,
                    currency,
                    at,
                    sku,
                    -refunded.quantity,
                    ZERO,
                    ZERO,
                    amount,
                )
            )
    if snapshot.cancelled_at is not None:
        for index, line in enumerate(lines):
            units = max(line.quantity - units_back[index], 0)
            amount = max(nets[index] - money_back[index], ZERO)
            if units or amount:
                rows.append(
                    LineEntryRow(
                        order_id,
                        len(rows),
                        store_id,
                        currency,
                        snapshot.cancelled_at,
                        sku_of(line),
                        -units,
                        ZERO,
                        ZERO,
                        amount,
                    )
                )
    return rows
