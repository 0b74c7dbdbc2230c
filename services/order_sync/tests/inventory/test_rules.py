"""The stock rules: which movement an order's state owes, and low-stock crossings."""

import itertools
from collections.abc import Iterable
from typing import Any

import pytest
from crm_events.shop import CANONICAL_ORDER_EXAMPLE, CanonicalOrder, FinancialStatus
from order_sync.inventory.rules import (
    RETURNED_EVENT,
    MovementKind,
    OrderStock,
    crossed_low,
    due_movement,
    is_low,
    signed,
    sku_lines,
)

F = FinancialStatus
M = MovementKind
CANCELLED_AT = "2026-11-02T09:00:00Z"


def stock(
    financial: F = F.PAID,
    *,
    cancelled: bool = False,
    events: Iterable[str] = (),
    lines: list[dict[str, Any]] | None = None,
) -> OrderStock:
    order = CanonicalOrder.model_validate(
        {
            **CANONICAL_ORDER_EXAMPLE,
            "financial_status": financial.value,
            "cancelled_at": CANCELLED_AT if cancelled else None,
            **({"lines": lines} if lines is not None else {}),
        }
    )
    return OrderStock.of(order, order_id="o-1", events=events)


def replay(states: Iterable[OrderStock]) -> list[MovementKind]:
    """The movements a sequence of stored changes of one order applies, each at most once."""
    recorded: list[MovementKind] = []
    for state in states:
        kind = due_movement(state, recorded)
        if kind is not None:
            recorded.append(kind)
    return recorded


def test_a_paid_order_owes_its_sale_once() -> None:
    assert due_movement(stock(F.PAID), []) is M.SALE
    assert due_movement(stock(F.PAID), [M.SALE]) is None


@pytest.mark.parametrize("financial", [F.PAID, F.PARTIALLY_REFUNDED, F.REFUNDED])
def test_any_captured_status_counts_as_sold(financial: FinancialStatus) -> None:
    # An order first seen after a refund was still paid before it.
    assert due_movement(stock(financial), []) is M.SALE


@pytest.mark.parametrize("financial", [F.PENDING, F.AUTHORIZED, F.VOIDED])
def test_an_unpaid_order_moves_nothing(financial: FinancialStatus) -> None:
    assert due_movement(stock(financial), []) is None


def test_paid_then_cancelled_gives_the_sale_back_once() -> None:
    states = [stock(F.PENDING), stock(F.PAID), stock(F.PAID, cancelled=True)]
    assert replay([*states, stock(F.REFUNDED, cancelled=True)]) == [M.SALE, M.CANCEL]


def test_cancelled_before_paid_never_moves_stock() -> None:
    states = [stock(F.PENDING), stock(F.VOIDED, cancelled=True), stock(F.PAID, cancelled=True)]
    assert replay(states) == []


def test_an_order_first_seen_paid_and_cancelled_took_nothing() -> None:
    assert replay([stock(F.REFUNDED, cancelled=True)]) == []


def test_a_duplicate_transition_is_applied_once() -> None:
    paid, cancelled = stock(F.PAID), stock(F.PAID, cancelled=True)
    assert replay([paid, paid, paid, cancelled, cancelled, paid]) == [M.SALE, M.CANCEL]


def test_a_return_gives_the_sale_back_and_a_later_cancel_does_not_again() -> None:
    returned = stock(F.REFUNDED, events=[RETURNED_EVENT])
    states = [stock(F.PAID), returned, returned, stock(F.REFUNDED, cancelled=True)]
    assert replay(states) == [M.SALE, M.RETURN]


def test_a_return_before_any_sale_moves_nothing() -> None:
    assert replay([stock(F.REFUNDED, events=[RETURNED_EVENT])]) == []


def test_lines_without_a_sku_are_ignored_and_skus_are_summed() -> None:
    lines = [
        {"sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "12.50"},
        {"sku": None, "name": "Gift wrap", "quantity": 1, "unit_price": "1.00"},
        {"sku": "", "name": "Engraving", "quantity": 1, "unit_price": "3.00"},
        {"sku": "MUG-1", "name": "Mug (gift)", "quantity": 1, "unit_price": "12.50"},
        {"sku": "TEA-9", "name": "Tea", "quantity": 3, "unit_price": "4.00"},
    ]
    assert stock(lines=lines).lines == (("MUG-1", 3), ("TEA-9", 3))


def test_an_order_without_skus_owes_no_movement() -> None:
    lines = [{"name": "Service", "quantity": 1, "unit_price": "10.00"}]
    assert due_movement(stock(lines=lines), []) is None


def test_a_sale_takes_and_a_restock_gives_back() -> None:
    lines = sku_lines([("A", 2), ("B", 1)])
    assert signed(M.SALE, lines) == [("A", -2), ("B", -1)]
    assert signed(M.CANCEL, lines) == [("A", 2), ("B", 1)]
    assert signed(M.RETURN, lines) == [("A", 2), ("B", 1)]


def test_low_means_at_or_below_a_threshold() -> None:
    assert is_low(5, 5)
    assert is_low(-2, 0)
    assert not is_low(6, 5)
    assert not is_low(-100, None)


def test_low_stock_is_announced_once_per_downward_crossing() -> None:
    quantities = [10, 7, 5, 4, 0, -3, 6, 9, 2, 1]
    steps = itertools.pairwise(quantities)
    crossings = [after for before, after in steps if crossed_low((before, 5), (after, 5))]
    assert crossings == [5, 2]


def test_a_level_set_low_or_a_threshold_raised_over_it_crosses() -> None:
    assert crossed_low(None, (3, 5))
    assert not crossed_low(None, (30, 5))
    assert not crossed_low(None, (0, None))
    assert crossed_low((8, 5), (8, 10))
    assert not crossed_low((4, 5), (4, 10))
    assert not crossed_low((4, 5), (4, None))


def test_order_stock_reads_the_order() -> None:
    order = stock(F.PAID, cancelled=True, events=[RETURNED_EVENT])
    assert order == OrderStock(
        order_id="o-1",
        store_id="demo",
        lines=(("MUG-1", 2),),
        captured=True,
        cancelled=True,
        returned=True,
    )
