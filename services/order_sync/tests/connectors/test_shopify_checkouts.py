"""Shopify checkout payloads, as Shopify documents them, to canonical checkouts."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from order_sync.connectors import shopify, shopify_checkouts
from order_sync.connectors._fields import PayloadError, parse_json_object

Payload = Callable[[str], dict[str, Any]]


def fields_at_fault(error: pytest.ExceptionInfo[PayloadError]) -> set[str]:
    return {problem.field for problem in error.value.problems}


def test_the_documented_checkout_maps_field_by_field(payload: Payload) -> None:
    checkout = shopify_checkouts.checkout_from_payload(
        payload("shopify/checkouts_create"), store_id="s1"
    )

    assert checkout.store_id == "s1"
    assert checkout.checkout_id == "123123123"  # the token, which orders name
    assert checkout.cart_id == "eeafa272cebfd4b22385bc4b645e762c"
    assert checkout.currency == "USD"
    assert checkout.total == Decimal("421.88")
    assert checkout.started_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)  # -05:00 in the payload
    assert checkout.updated_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert checkout.completed_at is None
    assert checkout.recovery_url == (
        "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token"
    )
    assert checkout.customer is not None
    assert checkout.customer.model_dump() == {
        # The docs' id, rounded upstream through a float64, kept digit for digit as written.
        "external_id": "603851970716743400",
        "email": "john@example.com",  # the account's, as the order mapping prefers it
        "phone": None,
        "first_name": "John",
        "last_name": "Smith",
    }
    assert [line.model_dump() for line in checkout.lines] == [
        {
            "sku": "IPOD2008PINK",
            "name": "IPod Nano - 8GB",
            "quantity": 1,
            "unit_price": Decimal("199.00"),
            "variant_id": "808950810",
            "product_id": "632910392",
            "total": Decimal("199.00"),
        }
    ] * 2


def test_a_completed_checkout_says_so(payload: Payload) -> None:
    body = payload("shopify/checkouts_create")
    body["completed_at"] = "2022-01-01T10:30:00+01:00"

    checkout = shopify_checkouts.checkout_from_payload(body, store_id="s1")

    assert checkout.completed_at == datetime(2022, 1, 1, 9, 30, tzinfo=UTC)


def test_ids_beyond_2_to_the_53_keep_every_digit() -> None:
    raw = json.dumps(
        {
            "token": "t-1",
            "created_at": "2026-11-01T09:45:00Z",
            "currency": "usd",
            "total_price": "10.00",
            "customer": {"id": 2**63 - 1, "email": "a@example.com"},
            "line_items": [{"price": "10.00", "quantity": 1, "variant_id": 9007199254740993}],
        }
    ).encode()

    checkout = shopify_checkouts.checkout_from_payload(parse_json_object(raw), store_id="s1")

    assert checkout.customer is not None
    assert checkout.customer.external_id == "9223372036854775807"
    assert checkout.lines[0].variant_id == "9007199254740993"
    assert checkout.currency == "USD"
    assert checkout.updated_at == checkout.started_at  # absent: the start is the last activity


def test_an_anonymous_checkout_has_no_customer() -> None:
    checkout = shopify_checkouts.checkout_from_payload(
        {"token": "t", "created_at": "2026-11-01T09:45:00Z", "currency": "EUR", "total_price": 0},
        store_id="s1",
    )

    assert checkout.customer is None
    assert checkout.lines == []


def test_every_field_at_fault_is_named_by_its_path(payload: Payload) -> None:
    body = payload("shopify/checkouts_create")
    del body["token"]
    body["created_at"] = None
    body["currency"] = "dollars"
    body["line_items"][1]["price"] = 199.5  # a float never stands in for money
    body["line_items"][0]["quantity"] = "1"

    with pytest.raises(PayloadError) as error:
        shopify_checkouts.checkout_from_payload(body, store_id="s1")

    assert fields_at_fault(error) == {
        "token",
        "created_at",
        "currency",
        "line_items[1].price",
        "line_items[0].quantity",
    }


def test_what_the_contract_refuses_is_named_as_canonical(payload: Payload) -> None:
    body = payload("shopify/checkouts_create")
    body["line_items"][0]["quantity"] = 0

    with pytest.raises(PayloadError) as error:
        shopify_checkouts.checkout_from_payload(body, store_id="s1")

    assert fields_at_fault(error) == {"canonical.lines.0.quantity"}


def test_orders_name_the_checkout_and_cart_they_came_from(payload: Payload) -> None:
    order_body = payload("shopify/orders_create")
    order_body["checkout_token"] = "123123123"
    order_body["cart_token"] = "eeafa272cebfd4b22385bc4b645e762c"
    checkout = shopify_checkouts.checkout_from_payload(
        payload("shopify/checkouts_create"), store_id="s1"
    )

    order = shopify.order_from_payload(order_body, store_id="s1")

    assert (order.checkout_id, order.cart_token) == (checkout.checkout_id, checkout.cart_id)
    untied = shopify.order_from_payload(payload("shopify/orders_create"), store_id="s1")
    assert (untied.checkout_id, untied.cart_token) == (None, None)
