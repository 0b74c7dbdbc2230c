"""The stock rules: which movement an order's state owes, and low-stock crossings."""

import itertools
from collections.abc import Iterable
from typing import Any

import pytest
from crm_events.shop import CANONICAL_ORDER_EXAMPLE, CanonicalOrder, FinancialStatus
from order_sync.inventory.rules import (
    CANCEL,
    SALE,
    Lines,
    Movement,
    MovementKind,
    OrderStock,
    crossed_low,
    due_movements,
    is_low,
    restock,
    signed,
    sku_lines,
)

F = FinancialStatus
M = MovementKind
CANCELLED_AT = "2026-11-02T09:00:00Z"
MUGS = [
    {"external_id": "l-1", "sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "12.50"},
    {"external_id": "l-2", "sku": "TEA-9", "name": "Tea", "quantity": 3, "unit_price": "4.00"},
]


def received(key: str, *lines: tuple[str, int], status: str = "received") -> dict[str, Any]:
    """A return of `lines` (order line id, quantity), as the canonical order carries it."""
    return {
        "external_id": key,
        "status": status,
        "lines": [{"line_external_id": line, "quantity": qty} for line, qty in lines],
    }


def refunded(key: str, *lines: tuple[str, int, bool]) -> dict[str, Any]:
    """A refund of `lines` (order line id, quantity, restocked with the refund)."""
    return {
        "external_id": key,
        "amount": "1.00",
        "lines": [
            {"line_external_id": line, "quantity": qty, "restocked": restocked}
            for line, qty, restocked in lines
        ],
    }


def stock(
    financial: F = F.PAID,
    *,
    cancelled: bool = False,
    returns: list[dict[str, Any]] | None = None,
    refunds: list[dict[str, Any]] | None = None,
    lines: list[dict[str, Any]] | None = None,
) -> OrderStock:
    order = CanonicalOrder.model_validate(
        {
            **CANONICAL_ORDER_EXAMPLE,
            "financial_status": financial.value,
            "cancelled_at": CANCELLED_AT if cancelled else None,
            "lines": lines if lines is not None else MUGS,
            "returns": returns or [],
            "refunds": refunds or [],
        }
    )
    return OrderStock.of(order, order_id="o-1")


def replay(states: Iterable[OrderStock]) -> list[Movement]:
    """The movements a sequence of stored changes of one order applies, each at most once."""
    recorded: list[Movement] = []
    for state in states:
        recorded.extend(due_movements(state, recorded))
    return recorded


def moved(states: Iterable[OrderStock]) -> dict[str, int]:
    """What those movements do to each SKU's level, every SKU tracked."""
    recorded: dict[Movement, Lines] = {}
    totals: dict[str, int] = {}
    for state in states:
        for movement in due_movements(state, recorded):
            kind, _ = movement
            if kind is M.SALE:
                lines = state.lines
            else:
                earlier = [lines for (k, _), lines in recorded.items() if k is not M.SALE]
                wanted = None if movement == CANCEL else dict(state.restocks)[movement]
                lines = restock(recorded[SALE], earlier, wanted)
            recorded[movement] = lines
            for sku, delta in signed(kind, lines):
                totals[sku] = totals.get(sku, 0) + delta
    return totals


def test_a_paid_order_owes_its_sale_once() -> None:
    assert due_movements(stock(F.PAID), []) == [SALE]
    assert due_movements(stock(F.PAID), [SALE]) == []


@pytest.mark.parametrize("financial", [F.PAID, F.PARTIALLY_REFUNDED, F.REFUNDED])
def test_any_captured_status_counts_as_sold(financial: FinancialStatus) -> None:
    # An order first seen after a refund was still paid before it.
    assert due_movements(stock(financial), []) == [SALE]


@pytest.mark.parametrize("financial", [F.PENDING, F.AUTHORIZED, F.VOIDED])
def test_an_unpaid_order_moves_nothing(financial: FinancialStatus) -> None:
    assert due_movements(stock(financial), []) == []


def test_paid_then_cancelled_gives_the_sale_back_once() -> None:
    states = [stock(F.PENDING), stock(F.PAID), stock(F.PAID, cancelled=True)]
    assert replay([*states, stock(F.REFUNDED, cancelled=True)]) == [SALE, CANCEL]
    assert moved([*states, stock(F.REFUNDED, cancelled=True)]) == {"MUG-1": 0, "TEA-9": 0}


def test_cancelled_before_paid_never_moves_stock() -> None:
    states = [stock(F.PENDING), stock(F.VOIDED, cancelled=True), stock(F.PAID, cancelled=True)]
    assert replay(states) == []


def test_an_order_first_seen_paid_and_cancelled_took_nothing() -> None:
    assert replay([stock(F.REFUNDED, cancelled=True)]) == []


def test_a_duplicate_transition_is_applied_once() -> None:
    paid, cancelled = stock(F.PAID), stock(F.PAID, cancelled=True)
    assert replay([paid, paid, paid, cancelled, cancelled, paid]) == [SALE, CANCEL]


def test_each_return_received_gives_its_own_lines_back_once() -> None:
    first = [received("r-1", ("l-1", 1))]
    both = [*first, received("r-2", ("l-2", 3))]
    states = [stock(F.PAID), stock(returns=first), stock(returns=first), stock(returns=both)]

    assert replay(states) == [SALE, (M.RETURN, "r-1"), (M.RETURN, "r-2")]
    assert moved(states) == {"MUG-1": -1, "TEA-9": 0}


def test_a_return_not_received_yet_moves_nothing() -> None:
    asked = [received("r-1", ("l-1", 2), status="requested")]
    open_ = [received("r-1", ("l-1", 2), status="open")]
    closed = [received("r-1", ("l-1", 2), status="closed")]
    states = [stock(returns=asked), stock(returns=open_), stock(returns=closed)]
    assert replay(states) == [SALE, (M.RETURN, "r-1")]


def test_a_cancel_after_a_partial_return_gives_back_only_the_rest() -> None:
    returns = [received("r-1", ("l-1", 1))]
    states = [stock(), stock(returns=returns), stock(returns=returns, cancelled=True)]

    assert replay(states) == [SALE, (M.RETURN, "r-1"), CANCEL]
    assert moved(states) == {"MUG-1": 0, "TEA-9": 0}


def test_returns_never_give_back_more_than_was_sold() -> None:
    returns = [received("r-1", ("l-1", 2)), received("r-2", ("l-1", 5), ("l-2", 1))]
    assert moved([stock(returns=returns)]) == {"MUG-1": 0, "TEA-9": -2}


def test_a_return_after_a_cancel_gives_nothing_more() -> None:
    returns = [received("r-1", ("l-1", 1))]
    states = [stock(), stock(cancelled=True), stock(returns=returns, cancelled=True)]
    assert replay(states) == [SALE, CANCEL]


def test_a_return_before_any_sale_moves_nothing() -> None:
    assert replay([stock(F.PENDING, returns=[received("r-1", ("l-1", 1))])]) == []


def test_an_order_first_seen_paid_with_a_return_sells_then_takes_the_return_back() -> None:
    states = [stock(F.PARTIALLY_REFUNDED, returns=[received("r-1", ("l-2", 2))])]
    assert replay(states) == [SALE, (M.RETURN, "r-1")]
    assert moved(states) == {"MUG-1": -2, "TEA-9": -1}


def test_a_return_line_names_its_sku_or_the_order_line_it_came_from() -> None:
    returns = [
        {"external_id": "r-1", "status": "received", "lines": [{"sku": "MUG-1", "quantity": 1}]},
        received("r-2", ("l-2", 2), ("l-unknown", 4)),
        {"status": "closed", "lines": [{"line_external_id": "l-1", "quantity": 1}]},
    ]
    assert stock(returns=returns).restocks == (
        ((M.RETURN, "r-1"), (("MUG-1", 1),)),
        ((M.RETURN, "r-2"), (("TEA-9", 2),)),
        ((M.RETURN, "#2"), (("MUG-1", 1),)),
    )


def test_units_a_refund_restocked_come_back_once_per_refund() -> None:
    first = [refunded("rf-1", ("l-1", 1, True), ("l-2", 3, False))]
    both = [*first, refunded("rf-2", ("l-2", 2, True))]
    states = [stock(), stock(refunds=first), stock(refunds=first), stock(refunds=both)]

    assert replay(states) == [SALE, (M.CANCEL, "refund:rf-1"), (M.CANCEL, "refund:rf-2")]
    assert moved(states) == {"MUG-1": -1, "TEA-9": -1}


def test_a_refund_that_restocked_nothing_moves_nothing() -> None:
    refunds = [refunded("rf-1", ("l-1", 2, False)), refunded("rf-2", ("l-2", 0, True))]
    assert replay([stock(), stock(refunds=refunds)]) == [SALE]


def test_a_cancel_after_a_restocking_refund_gives_back_only_the_rest() -> None:
    refunds = [refunded("rf-1", ("l-2", 3, True))]
    states = [stock(), stock(refunds=refunds), stock(refunds=refunds, cancelled=True)]

    assert replay(states) == [SALE, (M.CANCEL, "refund:rf-1"), CANCEL]
    assert moved(states) == {"MUG-1": 0, "TEA-9": 0}


def test_returns_and_restocking_refunds_together_never_give_back_more_than_was_sold() -> None:
    returns = [received("r-1", ("l-1", 2))]
    refunds = [refunded("rf-1", ("l-1", 1, True), ("l-2", 9, True)), refunded("rf-2")]
    state = stock(returns=returns, refunds=refunds)

    assert replay([state]) == [SALE, (M.RETURN, "r-1"), (M.CANCEL, "refund:rf-1")]
    assert moved([state]) == {"MUG-1": 0, "TEA-9": 0}


def test_a_restocking_refund_before_any_sale_moves_nothing() -> None:
    assert replay([stock(F.PENDING, refunds=[refunded("rf-1", ("l-1", 1, True))])]) == []


def test_a_restock_is_capped_by_the_sale_less_earlier_restocks() -> None:
    sold = (("A", 3), ("B", 1))
    assert restock(sold, [], None) == sold
    assert restock(sold, [(("A", 1),)], None) == (("A", 2), ("B", 1))
    assert restock(sold, [(("A", 3),)], (("A", 1), ("B", 2), ("C", 1))) == (("B", 1),)


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
    assert due_movements(stock(lines=lines), []) == []


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
    order = stock(F.PAID, cancelled=True, returns=[received("r-1", ("l-1", 1))])
    assert order == OrderStock(
        order_id="o-1",
        store_id="demo",
        lines=(("MUG-1", 2), ("TEA-9", 3)),
        captured=True,
        cancelled=True,
        restocks=(((M.RETURN, "r-1"), (("MUG-1", 1),)),),
    )
