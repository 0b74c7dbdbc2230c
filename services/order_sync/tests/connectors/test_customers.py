"""Shop customer accounts, as Shopify and WooCommerce document them, to shop.customer.upserted."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from crm_events.registry import CONTRACTS
from crm_events.shop_activity import SHOP_CUSTOMER_UPSERTED
from order_sync.connectors import customers
from order_sync.connectors._fields import PayloadError

Payload = Callable[[str], dict[str, Any]]


def fields_at_fault(error: pytest.ExceptionInfo[PayloadError]) -> set[str]:
    return {problem.field for problem in error.value.problems}


def test_the_documented_shopify_customer_maps_field_by_field(payload: Payload) -> None:
    account = customers.shopify_customer(payload("shopify/customers_create"), store_id="s1")

    assert account.store_id == "s1"
    assert account.customer.model_dump() == {
        # Rounded upstream through a float64 (the gid says ...084): kept as the digits sent.
        "external_id": "706405506930370000",
        "email": "bob@biller.com",
        "phone": None,
        "first_name": "Bob",
        "last_name": "Biller",
    }
    assert [address.model_dump() for address in account.addresses] == [
        {
            "name": "Bob Biller",
            "line1": "151 O'Connor Street",
            "line2": None,
            "city": "Ottawa",
            "region": "ON",
            "postal_code": "K2P 2L8",
            "country": "CA",
        }
    ]
    assert account.accepts_marketing is None  # the 2025-01 example says nothing of consent
    assert account.marketing_consent_at is None
    assert account.tags == []
    assert account.created_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert account.updated_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    event = SHOP_CUSTOMER_UPSERTED.event(account, source="order-sync")
    CONTRACTS.validate(event.model_dump(mode="json"))


@pytest.mark.parametrize(
    ("consent", "legacy", "accepts", "at"),
    [
        ({"state": "subscribed", "consent_updated_at": "2026-10-30T12:00:00Z"}, None, True, True),
        ({"state": "not_subscribed", "consent_updated_at": None}, None, False, False),
        (
            {"state": "unsubscribed", "consent_updated_at": "2026-10-30T12:00:00Z"},
            True,
            False,
            True,
        ),
        ({"state": "pending", "opt_in_level": "confirmed_opt_in"}, None, False, False),
        ({"state": "SUBSCRIBED"}, None, True, False),
        ({"state": "a_state_shopify_adds_later"}, True, None, False),
        (None, True, True, True),
        (None, False, False, True),
        ({"state": None}, None, None, False),
        (None, None, None, False),
    ],
)
def test_shopify_consent_and_its_legacy_flag_map_to_accepts_marketing(
    payload: Payload,
    consent: dict[str, Any] | None,
    legacy: bool | None,
    accepts: bool | None,
    at: bool,
) -> None:
    body = payload("shopify/customers_create")
    body["email_marketing_consent"] = consent
    if legacy is not None:
        body["accepts_marketing"] = legacy
        body["accepts_marketing_updated_at"] = "2026-10-30T13:00:00+01:00"

    account = customers.shopify_customer(body, store_id="s1")

    assert account.accepts_marketing is accepts
    expected = datetime(2026, 10, 30, 12, 0, tzinfo=UTC) if at else None
    assert account.marketing_consent_at == expected


def test_shopify_addresses_tags_and_times(payload: Payload) -> None:
    body = payload("shopify/customers_create")
    default = body["default_address"]
    other = {**default, "id": 99, "default": False, "address1": "1 Other Road", "city": "Perth"}
    body["addresses"] = [other, default]  # the default one is listed again, second
    body["tags"] = " vip, newsletter ,, spring 2026"
    body["updated_at"] = None

    account = customers.shopify_customer(body, store_id="s1")

    assert [a.line1 for a in account.addresses] == ["151 O'Connor Street", "1 Other Road"]
    assert account.tags == ["vip", "newsletter", "spring 2026"]
    assert account.updated_at == account.created_at  # never changed since it was created


def test_a_shopify_customer_without_an_id_or_times_is_refused(payload: Payload) -> None:
    body = payload("shopify/customers_create")
    body["id"] = None
    body["created_at"] = body["updated_at"] = None
    body["email"] = ["not", "text"]
    body["default_address"]["country_code"] = "Canada"

    with pytest.raises(PayloadError) as error:
        customers.shopify_customer(body, store_id="s1")

    assert fields_at_fault(error) == {"id", "updated_at", "email", "default_address.country_code"}


def test_the_documented_woocommerce_customer_maps_field_by_field(payload: Payload) -> None:
    account = customers.woocommerce_customer(
        payload("woocommerce/customer_created_docs_v3"), store_id="w1"
    )

    assert account.customer.model_dump() == {
        "external_id": "25",
        "email": "john.doe@example.com",
        "phone": "(555) 555-5555",
        "first_name": "John",
        "last_name": "Doe",
    }
    # Billing and shipping are the same place: listed once.
    assert [address.model_dump() for address in account.addresses] == [
        {
            "name": "John Doe",
            "line1": "969 Market",
            "line2": None,
            "city": "San Francisco",
            "region": "CA",
            "postal_code": "94103",
            "country": "US",
        }
    ]
    assert account.accepts_marketing is None  # WooCommerce records no consent
    assert account.tags == []
    assert account.created_at == datetime(2017, 3, 21, 19, 9, 28, tzinfo=UTC)  # *_gmt is UTC
    assert account.updated_at == datetime(2017, 3, 21, 19, 9, 30, tzinfo=UTC)


def test_a_woocommerce_account_with_little_in_it(payload: Payload) -> None:
    body = payload("woocommerce/customer_created_docs_v3")
    body["email"] = ""
    body["first_name"] = ""
    body["date_modified_gmt"] = None
    body["shipping"] = dict.fromkeys(body["shipping"], "")
    body["billing"]["address_1"] = "1 Billing Way"

    account = customers.woocommerce_customer(body, store_id="w1")

    # Empty fields fall back to billing; an address of empty strings is none.
    assert account.customer.email == "john.doe@example.com"
    assert account.customer.first_name == "John"
    assert [a.line1 for a in account.addresses] == ["1 Billing Way"]
    assert account.updated_at == account.created_at


@pytest.mark.parametrize("missing", [None, 0, ""])
def test_a_woocommerce_account_needs_its_id(payload: Payload, missing: Any) -> None:
    body = payload("woocommerce/customer_created_docs_v3")
    body["id"] = missing

    with pytest.raises(PayloadError) as error:
        customers.woocommerce_customer(body, store_id="w1")

    assert fields_at_fault(error) == {"id"}
