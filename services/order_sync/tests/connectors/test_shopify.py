"""Shopify order payloads, as Shopify documents and sends them, to canonical orders."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from crm_events.shop import FinancialStatus, FulfillmentStatus
from order_sync.connectors import shopify
from order_sync.connectors._fields import PayloadError, parse_json_object

Payload = Callable[[str], dict[str, Any]]


def fields_at_fault(error: pytest.ExceptionInfo[PayloadError]) -> set[str]:
    return {problem.field for problem in error.value.problems}


def test_the_documented_order_maps_field_by_field(payload: Payload) -> None:
    order = shopify.order_from_payload(payload("shopify/orders_create"), store_id="s1")

    assert order.store_id == "s1"
    assert order.external_id == "820982911946154500"
    assert order.placed_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)  # -05:00 in the payload
    assert order.updated_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert order.currency == "USD"
    assert order.financial_status == FinancialStatus.VOIDED
    assert order.fulfillment_status == FulfillmentStatus.UNFULFILLED  # null
    assert order.cancelled_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    customer = order.customer
    assert customer.external_id == "115310627314723950"
    assert customer.email == "john@example.com"  # the customer's, not the order's jon@
    assert customer.phone is None
    assert (customer.first_name, customer.last_name) == ("John", "Smith")
    assert customer.accepts_marketing is True  # buyer_accepts_marketing
    assert [(line.external_id, line.sku, line.quantity) for line in order.lines] == [
        ("866550311766439000", "IPOD2008PINK", 1),
        ("141249953214522980", "IPOD2008PINK", 1),
    ]
    first = order.lines[0]
    assert (first.name, first.unit_price, first.discount_total, first.total) == (
        "IPod Nano - 8GB",
        Decimal("199.00"),
        Decimal("0.00"),
        Decimal("199.00"),
    )
    assert (first.variant_id, first.product_id) == ("808950810", "632910392")
    assert order.discount_total == Decimal("20.00")
    assert order.shipping_total == Decimal("10.00")  # total_shipping_price_set.shop_money
    assert order.tax_total == Decimal("0.00")
    assert order.total == Decimal("388.00")
    assert order.refunded_total == 0
    assert order.tags == ["tag1", "tag2"]
    assert order.note is None
    assert order.shipping_address is not None
    assert order.shipping_address.model_dump() == {
        "name": "Steve Shipper",
        "line1": "123 Shipping Street",
        "line2": None,
        "city": "Shippington",
        "region": "KY",
        "postal_code": "40003",
        "country": "US",
    }
    assert order.model_dump()["test"] is True


def test_the_2017_test_notification_maps_with_its_full_precision_ids(payload: Payload) -> None:
    order = shopify.order_from_payload(
        payload("shopify/orders_test_notification_2017"), store_id="s1"
    )

    assert order.external_id == "820982911946154508"
    assert order.customer.external_id == "115310627314723954"
    assert [line.external_id for line in order.lines] == [
        "866550311766439020",
        "141249953214522974",
    ]
    # processed_at is null: the order was placed when it was created (13:44:09-04:00).
    assert order.placed_at == datetime(2017, 7, 17, 17, 44, 9, tzinfo=UTC)
    assert order.customer.email == "john@test.com"
    assert order.customer.accepts_marketing is False  # the customer's own flag wins
    # "pending" is what this older shape sends for nothing shipped yet.
    assert order.fulfillment_status == FulfillmentStatus.UNFULFILLED
    assert order.financial_status == FinancialStatus.VOIDED
    assert order.cancelled_at == datetime(2017, 7, 17, 17, 44, 9, tzinfo=UTC)
    # No total_shipping_price_set yet: the shipping lines are summed.
    assert order.shipping_total == Decimal("10.00")
    hat = order.lines[1]
    assert (hat.variant_id, hat.discount_total, hat.total) == (
        None,
        Decimal("5.00"),
        Decimal("22.99"),
    )
    assert order.tags == []
    assert order.total == Decimal("57.98")
    assert order.model_dump()["test"] is True


def test_ids_rounded_upstream_are_kept_exactly_as_written(
    fixture_bytes: Callable[[str], bytes], payload: Payload
) -> None:
    raw = fixture_bytes("shopify/orders_create").decode()
    # The file's own ids went through a float64 upstream: the order's true id is in its gid.
    assert '"id": 820982911946154500,' in raw
    assert '"gid://shopify/Order/820982911946154508"' in raw
    written = "820982911946154500"
    through_a_float = str(int(json.loads(raw)["id"] * 1.0))
    assert through_a_float != written

    order = shopify.order_from_payload(payload("shopify/orders_create"), store_id="s1")

    assert order.external_id == written
    assert order.customer.external_id == "115310627314723950"
    assert order.lines[1].external_id == "141249953214522980"
    assert order.model_dump(mode="json")["external_id"] == written


def test_an_id_sent_as_a_fraction_is_refused_rather_than_rounded() -> None:
    body = json.dumps({"id": 1}).replace("1", "820982911946154500.0").encode()

    with pytest.raises(PayloadError) as error:
        shopify.order_from_payload(parse_json_object(body), store_id="s1")

    assert "id" in fields_at_fault(error)


def test_refunded_total_counts_only_successful_refund_transactions(payload: Payload) -> None:
    order_payload = payload("shopify/orders_create")
    refund = payload("shopify/refunds_create")  # two successful refunds: 75.00 and 10.00
    failed = {**refund["transactions"][0], "status": "failure", "amount": "500.00"}
    sale = {**refund["transactions"][0], "kind": "sale", "amount": "388.00"}
    refund["transactions"] = [*refund["transactions"], failed, sale]
    order_payload["refunds"] = [refund]
    order_payload["financial_status"] = "partially_refunded"

    order = shopify.order_from_payload(order_payload, store_id="s1")

    assert order.refunded_total == Decimal("85.00")
    assert order.financial_status == FinancialStatus.PARTIALLY_REFUNDED
    assert order.compute_net_paid() == Decimal("303.00")


@pytest.mark.parametrize(
    ("shopify_status", "status"),
    [
        (None, FulfillmentStatus.UNFULFILLED),
        ("partial", FulfillmentStatus.PARTIAL),
        ("fulfilled", FulfillmentStatus.FULFILLED),
        ("restocked", FulfillmentStatus.UNFULFILLED),
    ],
)
def test_fulfillment_statuses(
    payload: Payload, shopify_status: str | None, status: FulfillmentStatus
) -> None:
    order_payload = {**payload("shopify/orders_create"), "fulfillment_status": shopify_status}

    assert shopify.order_from_payload(order_payload, store_id="s").fulfillment_status == status


@pytest.mark.parametrize(
    ("shopify_status", "status"),
    [
        ("pending", FinancialStatus.PENDING),
        ("authorized", FinancialStatus.AUTHORIZED),
        ("partially_paid", FinancialStatus.PENDING),
        ("paid", FinancialStatus.PAID),
        ("partially_refunded", FinancialStatus.PARTIALLY_REFUNDED),
        ("refunded", FinancialStatus.REFUNDED),
        ("voided", FinancialStatus.VOIDED),
        ("expired", FinancialStatus.VOIDED),
        (None, FinancialStatus.PENDING),
    ],
)
def test_financial_statuses(
    payload: Payload, shopify_status: str | None, status: FinancialStatus
) -> None:
    order_payload = {**payload("shopify/orders_create"), "financial_status": shopify_status}

    assert shopify.order_from_payload(order_payload, store_id="s").financial_status == status


@pytest.mark.parametrize("field", ["financial_status", "fulfillment_status"])
def test_an_unknown_status_is_named(payload: Payload, field: str) -> None:
    order_payload = {**payload("shopify/orders_create"), field: "teleported"}

    with pytest.raises(PayloadError) as error:
        shopify.order_from_payload(order_payload, store_id="s")

    assert fields_at_fault(error) == {field}


@pytest.mark.parametrize(
    ("consent", "expected"),
    [({"state": "subscribed"}, True), ({"state": "not_subscribed"}, False)],
)
def test_email_marketing_consent_decides_over_the_checkout_flag(
    payload: Payload, consent: dict[str, str], expected: bool
) -> None:
    order_payload = payload("shopify/orders_create")
    order_payload["buyer_accepts_marketing"] = not expected
    order_payload["customer"]["email_marketing_consent"] = consent

    order = shopify.order_from_payload(order_payload, store_id="s")

    assert order.customer.accepts_marketing is expected


def test_a_guest_order_takes_the_order_email_and_phone(payload: Payload) -> None:
    order_payload = {**payload("shopify/orders_create"), "customer": None, "phone": "+15551234"}

    customer = shopify.order_from_payload(order_payload, store_id="s").customer

    assert (customer.external_id, customer.email, customer.phone) == (
        None,
        "jon@example.com",
        "+15551234",
    )
    assert (customer.first_name, customer.last_name) == ("Steve", "Shipper")  # billing


def test_an_order_nobody_can_be_identified_by_names_the_canonical_customer(
    payload: Payload,
) -> None:
    order_payload = {
        **payload("shopify/orders_create"),
        "customer": None,
        "email": None,
        "contact_email": None,
    }

    with pytest.raises(PayloadError) as error:
        shopify.order_from_payload(order_payload, store_id="s")

    assert fields_at_fault(error) == {"canonical.customer"}


# Where the anonymized capture holds a placeholder that no real order would send.
_PLACEHOLDER_FIELDS = {
    "currency",
    "financial_status",
    "total_price",
    "total_discounts",
    "total_tax",
    "total_shipping_price_set.shop_money.amount",
    "billing_address.country_code",
    "shipping_address.country_code",
    *(f"line_items[{i}].{key}" for i in range(12) for key in ("price", "total_discount")),
}


def test_the_anonymized_real_shape_fails_only_on_its_placeholder_values(
    payload: Payload,
) -> None:
    # Every string of the capture is "example string": nesting, nulls and optional parts are
    # real, values are not. Only fields whose values must be amounts, codes or statuses fail.
    with pytest.raises(PayloadError) as error:
        shopify.order_from_payload(payload("shopify/orders_anonymized_real_shape"), store_id="s")

    assert fields_at_fault(error) == _PLACEHOLDER_FIELDS


_VALUES = {
    "currency": "USD",
    "currency_code": "USD",
    "financial_status": "paid",
    "country_code": "US",
    "state": "subscribed",
    **dict.fromkeys(
        ("price", "amount", "total_discount", "total_price", "total_discounts", "total_tax"),
        "1.00",
    ),
}


def _with_values(node: Any) -> Any:
    """The anonymized capture with plausible values where its placeholders must be values."""
    if isinstance(node, dict):
        return {
            key: _VALUES[key]
            if key in _VALUES and value == "example string"
            else _with_values(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_with_values(item) for item in node]
    return node


def test_the_anonymized_real_shape_maps_once_its_values_are_real(payload: Payload) -> None:
    order = shopify.order_from_payload(
        _with_values(payload("shopify/orders_anonymized_real_shape")), store_id="s"
    )

    assert order.external_id == "123"
    assert len(order.lines) == 12
    assert all(line.unit_price == Decimal("1.00") for line in order.lines)
    assert order.placed_at == datetime(2019, 1, 1, tzinfo=UTC)  # "2019-01-01 00:00:00.000Z"
    assert order.customer.external_id == "123"
    assert order.customer.accepts_marketing is True  # email_marketing_consent.state
    assert order.customer.email is None  # the capture has no email at all
    assert order.financial_status == FinancialStatus.PAID
    assert order.tags == ["example string"]
    assert order.model_dump().get("test") is None  # "test": false is a real order
