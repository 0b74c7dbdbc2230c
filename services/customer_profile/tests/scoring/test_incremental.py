"""RFM figures from orders in hand, as the SQL refresh computes them (the batch equivalence test
compares the two on random streams; these pin the edges)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from customer_profile.scoring.incremental import Boundaries, Figures, figures

T0 = datetime(2026, 5, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Order:
    store_id: str
    currency: str
    net_paid: Decimal
    placed_at: datetime
    cancelled: bool = False


def at(day: int) -> datetime:
    return T0 + timedelta(days=day)


def test_cancelled_orders_do_not_count_and_a_store_of_only_those_has_no_row() -> None:
    orders = [
        Order("a", "USD", Decimal("10.00"), at(1)),
        Order("a", "USD", Decimal("5.50"), at(3), cancelled=True),
        Order("b", "USD", Decimal("7"), at(2), cancelled=True),
    ]

    assert figures(orders, {}) == {
        "a": Figures("USD", 1, Decimal("10.00"), at(1), None, None, None)
    }


def test_monetary_sums_the_currency_of_the_first_order_and_frequency_counts_them_all() -> None:
    orders = [
        Order("a", "EUR", Decimal("20.00"), at(5)),
        Order("a", "USD", Decimal("10.50"), at(1)),
        Order("a", "USD", Decimal("4.50"), at(2)),
    ]

    found = figures(orders, {})["a"]

    assert (found.currency, found.orders_count, found.last_order_at) == ("USD", 3, at(5))
    assert str(found.monetary) == "15.00"


def test_first_orders_at_the_same_time_pick_the_smaller_currency_code() -> None:
    orders = [Order("a", "USD", Decimal(1), at(1)), Order("a", "EUR", Decimal(2), at(1))]

    assert figures(orders, {})["a"].currency == "EUR"


def test_a_score_is_one_plus_the_boundaries_reached_skipping_missing_ones() -> None:
    bounds = Boundaries(
        recency=[at(0), at(2), None, at(9)],
        frequency=[1, 2, 3, 4],
        monetary=[Decimal(5), Decimal(10), Decimal(20), None],
    )
    orders = [Order("a", "USD", Decimal("10"), at(2)), Order("a", "USD", Decimal("0"), at(1))]

    found = figures(orders, {("a", "USD"): bounds})["a"]

    assert (found.r_score, found.f_score, found.m_score) == (3, 3, 3)
    # Boundaries of another currency score nothing.
    assert figures(orders, {("a", "EUR"): bounds})["a"].r_score is None
