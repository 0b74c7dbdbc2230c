import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from crm_events.shop import (
    CANONICAL_ORDER_EXAMPLE,
    CanonicalOrder,
    FinancialStatus,
    FulfillmentStatus,
)
from pydantic import ValidationError


def order_data(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(CANONICAL_ORDER_EXAMPLE)
    data.update(changes)
    return data


def test_the_example_parses() -> None:
    order = CanonicalOrder.model_validate(CANONICAL_ORDER_EXAMPLE)

    assert order.total == Decimal("32.00")
    assert order.lines[0].unit_price == Decimal("12.50")
    assert order.customer.email == "Ann@Example.com"  # raw: cleaning is customer-profile's job
    assert order.financial_status is FinancialStatus.PAID
    assert order.refunded_total == Decimal("0")


def test_defaults() -> None:
    data = order_data()
    for optional in ("updated_at", "financial_status", "fulfillment_status", "discount_total"):
        del data[optional]

    order = CanonicalOrder.model_validate(data)

    assert order.updated_at == order.placed_at == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert order.financial_status is FinancialStatus.PENDING
    assert order.fulfillment_status is FulfillmentStatus.UNFULFILLED
    assert order.discount_total == Decimal("0")
    assert order.tags == []
    assert order.customer.accepts_marketing is True


@pytest.mark.parametrize(
    "field", ["store_id", "external_id", "placed_at", "currency", "customer", "lines", "total"]
)
def test_a_missing_required_field_is_named(field: str) -> None:
    data = order_data()
    del data[field]

    with pytest.raises(ValidationError) as caught:
        CanonicalOrder.model_validate_json(json.dumps(data))

    assert [error["loc"] for error in caught.value.errors()] == [(field,)]
    assert caught.value.errors()[0]["type"] == "missing"


@pytest.mark.parametrize("field", ["name", "quantity", "unit_price"])
def test_a_line_missing_a_required_field_is_named(field: str) -> None:
    data = order_data()
    del data["lines"][0][field]

    with pytest.raises(ValidationError) as caught:
        CanonicalOrder.model_validate(data)

    assert caught.value.errors()[0]["loc"] == ("lines", 0, field)


def test_an_order_needs_a_line_of_at_least_one_item() -> None:
    with pytest.raises(ValidationError, match="lines"):
        CanonicalOrder.model_validate(order_data(lines=[]))
    line = {"name": "Mug", "quantity": 0, "unit_price": "1"}
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        CanonicalOrder.model_validate(order_data(lines=[line]))


def test_a_customer_needs_a_contact_key() -> None:
    customer = {"email": "", "phone": None, "first_name": "Ann"}

    with pytest.raises(ValidationError, match="at least one of email, phone or external_id"):
        CanonicalOrder.model_validate(order_data(customer=customer))


def test_empty_contact_strings_become_null() -> None:
    customer = {"external_id": "c-1", "email": "", "phone": "  "}

    order = CanonicalOrder.model_validate(order_data(customer=customer))

    assert order.customer.email is None
    assert order.customer.phone is None
    assert order.customer.accepts_marketing is False


@pytest.mark.parametrize("path", ["total", "shipping_total", "lines.0.unit_price"])
def test_a_float_money_value_is_rejected(path: str) -> None:
    raw = json.dumps(order_data()).replace('"32.00"', "32.0").replace('"5.00"', "5.0")
    raw = raw.replace('"12.50"', "12.5")

    with pytest.raises(ValidationError) as caught:
        CanonicalOrder.model_validate_json(raw)

    failing = {".".join(str(p) for p in error["loc"]) for error in caught.value.errors()}
    assert path in failing
    assert "never a float" in str(caught.value)


def test_a_19_digit_shopify_id_keeps_every_digit() -> None:
    raw = json.dumps(order_data(external_id="X")).replace('"X"', "5926512345678901234")
    raw = raw.replace('"MUG-1"', '"MUG-1", "variant_id": 4421234567890123456')

    order = CanonicalOrder.model_validate_json(raw)

    assert order.external_id == "5926512345678901234"
    assert order.lines[0].variant_id == "4421234567890123456"
    assert json.loads(order.model_dump_json())["external_id"] == "5926512345678901234"


def test_unknown_fields_survive_a_round_trip() -> None:
    data = order_data(source_name="web", shipping_address={"city": "Oslo", "country": "no"})
    data["customer"]["loyalty_tier"] = "gold"
    data["lines"][0]["gift_wrap"] = True
    data["shipping_address"]["door_code"] = "1234"

    order = CanonicalOrder.model_validate(data)
    again = CanonicalOrder.model_validate_json(order.model_dump_json())
    dumped = json.loads(again.model_dump_json())

    assert dumped["source_name"] == "web"
    assert dumped["customer"]["loyalty_tier"] == "gold"
    assert dumped["lines"][0]["gift_wrap"] is True
    assert dumped["shipping_address"]["door_code"] == "1234"
    assert dumped["shipping_address"]["country"] == "NO"


def test_the_schema_keeps_unknown_fields_open() -> None:
    schema = CanonicalOrder.model_json_schema()

    assert schema["additionalProperties"] is True
    for name in ("ShopCustomer", "OrderLine", "Address"):
        assert schema["$defs"][name]["additionalProperties"] is True


def test_currency_and_country_are_normalised() -> None:
    order = CanonicalOrder.model_validate(
        order_data(currency="usd", billing_address={"country": "us", "line2": ""})
    )

    assert order.currency == "USD"
    assert order.billing_address is not None
    assert order.billing_address.country == "US"
    assert order.billing_address.line2 is None


@pytest.mark.parametrize(
    ("status", "refunded", "cancelled", "expected"),
    [
        ("paid", "0", False, "32.00"),
        ("partially_refunded", "12.50", False, "19.50"),
        ("refunded", "32.00", False, "0.00"),
        ("refunded", "40.00", False, "0"),  # over-refunded: never below 0
        ("pending", "0", False, "0"),
        ("authorized", "0", False, "0"),
        ("voided", "0", True, "0"),
        ("pending", "0", True, "0"),
        ("paid", "0", True, "32.00"),  # cancelled after payment and not yet refunded
    ],
)
def test_net_paid(status: str, refunded: str, cancelled: bool, expected: str) -> None:
    order = CanonicalOrder.model_validate(
        order_data(
            financial_status=status,
            refunded_total=refunded,
            cancelled_at="2026-11-02T00:00:00Z" if cancelled else None,
        )
    )

    assert order.compute_net_paid() == Decimal(expected)
