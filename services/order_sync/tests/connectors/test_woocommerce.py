"""WooCommerce v3 order payloads, as WooCommerce documents and sends them, to canonical orders."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from crm_events.order_records import PaymentKind, PaymentStatus
from crm_events.shop import FinancialStatus, FulfillmentStatus
from order_sync.connectors import woocommerce
from order_sync.connectors._fields import PayloadError

Payload = Callable[[str], dict[str, Any]]


def fields_at_fault(error: pytest.ExceptionInfo[PayloadError]) -> set[str]:
    return {problem.field for problem in error.value.problems}


def test_the_documented_new_order_maps_field_by_field(payload: Payload) -> None:
    order = woocommerce.order_from_payload(
        payload("woocommerce/order_created_docs_v3"), store_id="w"
    )

    assert (order.store_id, order.external_id) == ("w", "727")
    # The *_gmt times, not the shop's local ones (16:28:02 there).
    assert order.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert order.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert order.currency == "USD"
    assert order.financial_status == FinancialStatus.PAID  # processing
    assert order.fulfillment_status == FulfillmentStatus.UNFULFILLED
    assert order.cancelled_at is None
    customer = order.customer
    assert customer.external_id is None  # customer_id 0: a guest
    assert (customer.email, customer.phone) == ("john.doe@example.com", "(555) 555-5555")
    assert (customer.first_name, customer.last_name) == ("John", "Doe")
    assert customer.accepts_marketing is False
    assert [
        (line.external_id, line.sku, line.quantity, line.unit_price, line.total)
        for line in order.lines
    ] == [
        ("315", None, 2, Decimal("3.00"), Decimal("6.00")),
        ("316", "Bar3", 1, Decimal("12.00"), Decimal("12.00")),
    ]
    variant = order.lines[1]
    assert (variant.product_id, variant.variant_id) == ("22", "23")
    assert order.lines[0].variant_id is None  # variation_id 0
    assert variant.name == "Ship Your Idea \u2013 Color: Black, Size: M Test"  # &ndash;
    assert (order.discount_total, order.shipping_total, order.tax_total, order.total) == (
        Decimal("0.00"),
        Decimal("10.00"),
        Decimal("1.35"),
        Decimal("29.35"),
    )
    assert order.refunded_total == 0
    assert order.billing_address is not None
    assert order.billing_address.model_dump() == {
        "name": "John Doe",
        "line1": "969 Market",
        "line2": None,
        "city": "San Francisco",
        "region": "CA",
        "postal_code": "94103",
        "country": "US",
    }
    assert order.shipping_address == order.billing_address
    assert order.note is None


def test_the_documented_completed_order_is_paid_and_fulfilled(payload: Payload) -> None:
    order = woocommerce.order_from_payload(
        payload("woocommerce/order_updated_docs_v3"), store_id="w"
    )

    assert order.external_id == "727"
    assert order.financial_status == FinancialStatus.PAID
    assert order.fulfillment_status == FulfillmentStatus.FULFILLED
    assert order.updated_at == datetime(2017, 3, 22, 19, 30, 35, tzinfo=UTC)


def test_a_real_woocommerce_8_order_maps(payload: Payload) -> None:
    order = woocommerce.order_from_payload(
        payload("woocommerce/order_created_real_wc8"), store_id="w"
    )

    assert order.external_id == "15"
    assert order.customer.external_id == "1"
    assert (order.customer.email, order.customer.phone) == ("user@example.com", "123")
    assert order.financial_status == FinancialStatus.PAID
    assert order.fulfillment_status == FulfillmentStatus.FULFILLED  # completed
    assert order.shipping_address is None  # every part sent as ""
    assert order.billing_address is not None
    assert (order.billing_address.country, order.billing_address.region) == ("VN", None)
    assert order.lines[0].unit_price == 0  # "price": 0, an int
    assert order.lines[0].sku is None
    assert order.total == Decimal("0.00")


@pytest.mark.parametrize(
    ("status", "paid", "financial", "cancelled"),
    [
        ("pending", False, FinancialStatus.PENDING, False),
        ("on-hold", False, FinancialStatus.PENDING, False),
        ("processing", True, FinancialStatus.PAID, False),
        ("completed", True, FinancialStatus.PAID, False),
        ("failed", False, FinancialStatus.VOIDED, False),
        ("refunded", True, FinancialStatus.REFUNDED, False),
        ("cancelled", False, FinancialStatus.VOIDED, True),
        ("cancelled", True, FinancialStatus.PAID, True),
        ("trash", False, FinancialStatus.VOIDED, True),
        ("shipped-by-a-plugin", True, FinancialStatus.PAID, False),
        ("awaiting-a-plugin", False, FinancialStatus.PENDING, False),
    ],
)
def test_statuses(
    payload: Payload, status: str, paid: bool, financial: FinancialStatus, cancelled: bool
) -> None:
    order_payload = payload("woocommerce/order_created_docs_v3")
    order_payload.update(
        status=status,
        date_paid_gmt="2017-03-22T19:28:08" if paid else None,
        date_modified_gmt="2017-03-23T08:00:00",
    )

    order = woocommerce.order_from_payload(order_payload, store_id="w")

    assert order.financial_status == financial
    expected_cancel = datetime(2017, 3, 23, 8, tzinfo=UTC) if cancelled else None
    assert order.cancelled_at == expected_cancel


def test_a_completed_order_refunded_later_stays_fulfilled(payload: Payload) -> None:
    order_payload = payload("woocommerce/order_updated_docs_v3")
    order_payload.update(status="refunded", refunds=[{"id": 1, "reason": "", "total": "-29.35"}])

    order = woocommerce.order_from_payload(order_payload, store_id="w")

    assert order.fulfillment_status == FulfillmentStatus.FULFILLED  # date_completed_gmt
    assert order.financial_status == FinancialStatus.REFUNDED
    assert order.refunded_total == Decimal("29.35")


def test_refunds_short_of_the_total_make_a_paid_order_partially_refunded(
    payload: Payload,
) -> None:
    order_payload = payload("woocommerce/order_updated_docs_v3")
    order_payload["refunds"] = [
        {"id": 730, "reason": "damaged", "total": "-10.00"},
        {"id": 731, "reason": "", "total": "-2.50"},
    ]

    order = woocommerce.order_from_payload(order_payload, store_id="w")

    assert order.refunded_total == Decimal("12.50")
    assert order.financial_status == FinancialStatus.PARTIALLY_REFUNDED
    assert order.compute_net_paid() == Decimal("16.85")
    assert [(r.external_id, r.amount, r.note, r.status) for r in order.refunds] == [
        ("730", Decimal("10.00"), "damaged", PaymentStatus.SUCCESS),
        ("731", Decimal("2.50"), None, PaymentStatus.SUCCESS),
    ]


def test_a_paid_order_records_its_payment(payload: Payload) -> None:
    order_payload = payload("woocommerce/order_created_docs_v3")
    order_payload["transaction_id"] = "ch_3OqZ9x2eZvKYlo2C"

    order = woocommerce.order_from_payload(order_payload, store_id="w")

    (payment,) = order.payments
    assert payment.external_id == "ch_3OqZ9x2eZvKYlo2C"
    assert (payment.kind, payment.status) == (PaymentKind.SALE, PaymentStatus.SUCCESS)
    assert (payment.amount, payment.currency, payment.gateway) == (Decimal("29.35"), None, "bacs")
    assert payment.processed_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)  # date_paid_gmt


def test_an_unpaid_order_has_no_payment_and_an_empty_transaction_id_is_none(
    payload: Payload,
) -> None:
    unpaid = payload("woocommerce/order_created_docs_v3")
    unpaid.update(status="pending", date_paid=None, date_paid_gmt=None)
    paid = payload("woocommerce/order_created_docs_v3")

    assert woocommerce.order_from_payload(unpaid, store_id="w").payments == []
    assert woocommerce.order_from_payload(paid, store_id="w").payments[0].external_id is None


def test_a_unit_price_that_does_not_divide_exactly_is_taken_as_sent(payload: Payload) -> None:
    order_payload = payload("woocommerce/order_created_docs_v3")
    line = order_payload["line_items"][0]
    line.update(quantity=3, subtotal="10.00", total="9.00", price=Decimal("3.3333333333333335"))

    order = woocommerce.order_from_payload(order_payload, store_id="w")

    mapped = order.lines[0]
    assert mapped.unit_price == Decimal("3.3333333333333335")
    assert (mapped.discount_total, mapped.total) == (Decimal("1.00"), Decimal("9.00"))


def test_a_missing_creation_time_and_bad_amounts_are_all_named(payload: Payload) -> None:
    order_payload = payload("woocommerce/order_created_docs_v3")
    del order_payload["date_created_gmt"]
    order_payload["total"] = "lots"
    order_payload["line_items"][1]["subtotal"] = None

    with pytest.raises(PayloadError) as error:
        woocommerce.order_from_payload(order_payload, store_id="w")

    assert fields_at_fault(error) == {"total", "line_items[1].subtotal", "date_created_gmt"}


def test_a_deletion_names_its_order_by_id() -> None:
    assert woocommerce.deleted_order_external_id({"id": 727}) == "727"
    with pytest.raises(PayloadError) as error:
        woocommerce.deleted_order_external_id({"id": None})
    assert fields_at_fault(error) == {"id"}
