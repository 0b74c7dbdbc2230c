from decimal import Decimal

import pytest
from analytics.kpis.exceptions import MixedCurrencies
from analytics.kpis.repository import WindowTotals
from analytics.kpis.service import compute_kpis


def totals(
    *,
    orders: int = 0,
    revenue: str = "0",
    customers: int = 0,
    repeat_customers: int = 0,
    currencies: tuple[str, ...] = (),
) -> WindowTotals:
    return WindowTotals(
        orders=orders,
        revenue=Decimal(revenue),
        customers=customers,
        repeat_customers=repeat_customers,
        currencies=currencies,
    )


def test_an_empty_window_has_zeroes_and_no_currency() -> None:
    kpis = compute_kpis(totals())

    assert (kpis.orders, kpis.customers) == (0, 0)
    assert str(kpis.revenue) == "0.00"
    assert str(kpis.aov) == "0.00"
    assert str(kpis.repeat_purchase_rate) == "0.0000"
    assert kpis.currency is None


def test_money_rounds_half_up_to_two_places() -> None:
    kpis = compute_kpis(totals(orders=2, revenue="10.005", customers=1, currencies=("USD",)))

    assert str(kpis.revenue) == "10.01"
    assert str(kpis.aov) == "5.00"  # 5.0025
    assert kpis.currency == "USD"


def test_aov_divides_the_exact_revenue_not_the_rounded_one() -> None:
    # 3 x 0.335 = 1.005: revenue rounds to 1.01, but the average is exactly 0.335 -> 0.34
    kpis = compute_kpis(totals(orders=3, revenue="1.005", customers=3, currencies=("EUR",)))

    assert str(kpis.revenue) == "1.01"
    assert str(kpis.aov) == "0.34"


@pytest.mark.parametrize(
    ("orders", "revenue", "aov"),
    [(3, "100", "33.33"), (3, "200", "66.67"), (1, "19.5", "19.50"), (4, "0.10", "0.03")],
)
def test_aov_is_revenue_per_order(orders: int, revenue: str, aov: str) -> None:
    kpis = compute_kpis(totals(orders=orders, revenue=revenue, customers=1, currencies=("USD",)))

    assert str(kpis.aov) == aov


@pytest.mark.parametrize(
    ("customers", "repeaters", "rate"),
    [(3, 1, "0.3333"), (3, 2, "0.6667"), (2, 2, "1.0000"), (8, 0, "0.0000"), (0, 0, "0.0000")],
)
def test_repeat_rate_is_the_share_of_customers_with_two_or_more_orders(
    customers: int, repeaters: int, rate: str
) -> None:
    kpis = compute_kpis(
        totals(orders=10, revenue="1", customers=customers, repeat_customers=repeaters)
    )

    assert str(kpis.repeat_purchase_rate) == rate


def test_amounts_in_several_currencies_are_refused() -> None:
    with pytest.raises(MixedCurrencies) as raised:
        compute_kpis(totals(orders=2, revenue="3", customers=2, currencies=("EUR", "USD")))

    assert raised.value.status == 409
    assert "EUR, USD" in raised.value.detail
    assert "currency" in raised.value.detail


def test_a_requested_currency_is_named_even_without_orders() -> None:
    assert compute_kpis(totals(), currency="EUR").currency == "EUR"
