"""The published definitions, on examples computed by hand."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from analytics.reports.repository import BuyerCounts, CohortCell, SalesSums
from analytics.reports.schemas import Compare, Granularity
from analytics.reports.service import buckets, cohort_rows, compared_window, sales_figures
from analytics.rollups.entries import order_entries
from crm_events.order import OrderSnapshot

D = Decimal
PLACED = datetime(2026, 3, 1, 10, tzinfo=UTC)


def snapshot(**changes: Any) -> OrderSnapshot:
    data: dict[str, Any] = {
        "order_id": "o-1",
        "store_id": "s",
        "external_id": "1",
        "placed_at": PLACED,
        "currency": "EUR",
        "financial_status": "paid",
        "customer": {"external_id": "c-1"},
        "lines": [
            {"sku": "MUG", "name": "Mug", "quantity": 2, "unit_price": "10.00"},
            {
                "sku": "CAP",
                "name": "Cap",
                "quantity": 1,
                "unit_price": "30.00",
                "discount_total": "5.00",
            },
        ],
        "discount_total": "10.00",
        "shipping_total": "4.00",
        "tax_total": "6.00",
        "total": "50.00",
        "net_paid": "50.00",
        "version": 1,
        **changes,
    }
    return OrderSnapshot.model_validate(data)


def test_a_sale_counts_gross_discounts_shipping_and_taxes_on_the_day_placed() -> None:
    entries = order_entries(snapshot())

    (sale,) = entries.sales
    assert (sale.at, sale.orders, sale.refunded_orders) == (PLACED, 1, 0)
    # gross = 2 x 10 + 30; discounts = the order's 10 (the cap's own 5 included)
    assert (sale.gross_sales, sale.discounts, sale.returns) == (D("50.00"), D("10.00"), 0)
    assert (sale.shipping, sale.taxes) == (D("4.00"), D("6.00"))
    assert entries.net_sales == D("40.00")


def test_the_order_level_discount_is_shared_by_the_lines_gross() -> None:
    lines = order_entries(snapshot()).lines

    # 5 of the 10 are the cap's own; the other 5 are shared 20:30 between mug and cap.
    assert [(line.sku, line.units, line.gross_sales, line.discounts) for line in lines] == [
        ("MUG", 2, D("20.00"), D("2.00")),
        ("CAP", 1, D("30.00"), D("8.00")),
    ]


def test_the_lines_own_discounts_count_when_the_order_states_less() -> None:
    entries = order_entries(snapshot(discount_total="0"))

    assert entries.sales[0].discounts == D("5.00")


def test_a_refund_counts_as_returns_on_the_day_it_was_processed() -> None:
    later = datetime(2026, 7, 9, 8, tzinfo=UTC)
    refund = {
        "amount": "9.00",
        "processed_at": later.isoformat(),
        "lines": [{"sku": "MUG", "quantity": 1}],
    }
    failed = {**refund, "status": "failure"}
    entries = order_entries(
        snapshot(financial_status="partially_refunded", refunds=[refund, failed])
    )

    sale, returned = entries.sales
    assert sale.refunded_orders == 1
    assert (returned.at, returned.orders, returned.returns) == (later, 0, D("9.00"))
    assert entries.net_sales == D("31.00")
    # The refunded mug's value is its net price when the refund line does not state it.
    assert (entries.lines[-1].sku, entries.lines[-1].units, entries.lines[-1].returns) == (
        "MUG",
        -1,
        D("9.00"),
    )


def test_a_cancellation_takes_back_what_the_refunds_had_not() -> None:
    cancelled = datetime(2026, 3, 2, tzinfo=UTC)
    refund = {"amount": "20.00", "processed_at": cancelled.isoformat()}
    entries = order_entries(snapshot(cancelled_at=cancelled, refunds=[refund]))

    # charged 50 - 10 + 4 + 6 = 50; refunded 20; the cancellation returns the other 30
    assert [(e.at, e.returns) for e in entries.sales[1:]] == [
        (cancelled, D("20.00")),
        (cancelled, D("30.00")),
    ]
    assert sum(line.units for line in entries.lines) == 0


def test_an_order_voided_before_payment_counts_for_nothing() -> None:
    entries = order_entries(snapshot(financial_status="voided", net_paid="0"))

    assert (entries.counted, entries.sales, entries.lines) == (False, [], [])


def test_the_figures_follow_their_formulas() -> None:
    sales = SalesSums(
        orders=4,
        refunded_orders=1,
        gross_sales=D("400"),
        discounts=D("40"),
        returns=D("60"),
        shipping=D("20"),
        taxes=D("30"),
    )
    buyers = BuyerCounts(buyers=3, new_buyers=2, one_time_buyers=1, orders=4, median_gap_days=12)

    figures = sales_figures(sales, buyers)

    assert figures.net_sales == D("300.00")  # 400 - 40 - 60
    assert figures.total_sales == D("350.00")  # 300 + 20 + 30
    assert figures.aov == D("90.00")  # (400 - 40) / 4
    assert figures.refund_rate == D("0.2500")  # 1 / 4
    assert figures.returning_buyers == 1  # 3 - 2
    assert figures.returning_customer_rate == D("0.3333")  # 1 / 3
    assert figures.repeat_purchase_rate == D("0.6667")  # (3 - 1) / 3
    assert figures.purchase_frequency == D("1.3333")  # 4 / 3
    assert figures.median_days_between_orders == 12


def test_an_empty_window_has_zero_rates() -> None:
    figures = sales_figures(
        SalesSums(0, 0, D(0), D(0), D(0), D(0), D(0)), BuyerCounts(0, 0, 0, 0, None)
    )

    assert (figures.aov, figures.returning_customer_rate) == (D("0.00"), D("0.0000"))
    assert figures.median_days_between_orders is None


def test_weeks_begin_on_monday_and_months_on_the_first() -> None:
    # 2026-03-04 is a Wednesday.
    assert buckets(date(2026, 3, 4), date(2026, 3, 20), Granularity.WEEK) == [
        (date(2026, 3, 4), date(2026, 3, 9)),
        (date(2026, 3, 9), date(2026, 3, 16)),
        (date(2026, 3, 16), date(2026, 3, 20)),
    ]
    assert buckets(date(2025, 12, 15), date(2026, 2, 2), Granularity.MONTH) == [
        (date(2025, 12, 15), date(2026, 1, 1)),
        (date(2026, 1, 1), date(2026, 2, 1)),
        (date(2026, 2, 1), date(2026, 2, 2)),
    ]


def test_the_compared_windows() -> None:
    window = (date(2024, 2, 1), date(2024, 3, 1))

    assert compared_window(*window, Compare.PREVIOUS_PERIOD) == (
        date(2024, 1, 3),
        date(2024, 2, 1),
    )
    assert compared_window(date(2024, 2, 29), date(2024, 3, 1), Compare.PREVIOUS_YEAR) == (
        date(2023, 2, 28),
        date(2023, 3, 1),
    )


def test_a_cohorts_share_buying_again_and_cumulative_net_sales_per_customer() -> None:
    jan, feb, apr = date(2026, 1, 1), date(2026, 2, 1), date(2026, 4, 1)
    rows = cohort_rows(
        [
            CohortCell(jan, jan, buyers=4, orders=5, net_sales=D("200")),
            CohortCell(jan, feb, buyers=1, orders=1, net_sales=D("30")),
            CohortCell(jan, apr, buyers=2, orders=3, net_sales=D("70")),
        ]
    )

    assert [
        (
            r.months_since_first_order,
            r.customers,
            r.share_buying_again,
            r.cumulative_net_sales_per_customer,
        )
        for r in rows
    ] == [
        (0, 4, D("0.0000"), D("50.00")),
        (1, 4, D("0.2500"), D("57.50")),
        (3, 4, D("0.5000"), D("75.00")),
    ]
