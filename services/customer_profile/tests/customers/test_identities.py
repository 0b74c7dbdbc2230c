import pytest
from crm_events.customer import IdentityKind
from customer_profile.customers.identities import (
    IdentityKey,
    normalise_email,
    normalise_phone,
    order_identity_keys,
    resolve,
)

EMAIL = IdentityKey(IdentityKind.EMAIL, "ada@example.com")
PHONE = IdentityKey(IdentityKind.PHONE, "+14155550100")
REF = IdentityKey(IdentityKind.STORE_REF, "c-1", "store-a")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
        ("\tADA@EXAMPLE.COM\n", "ada@example.com"),
    ],
)
def test_email_is_trimmed_and_lower_cased(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw", [None, "", "   ", "not-an-email", "ada@", "@example.com", "ada@@example.com", "a@b"]
)
def test_invalid_email_is_no_identity(raw: str | None) -> None:
    assert normalise_email(raw) is None


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 415 555 0100", None, "+14155550100"),
        ("+1 (415) 555-0100", "GB", "+14155550100"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("415.555.0100", "us", "+14155550100"),
        ("0044 20 7946 0958", "GB", "+442079460958"),
        ("0044 20 7946 0958", "DE", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        (" +44 20 7946 0958 ", None, "+442079460958"),
    ],
)
def test_phone_becomes_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalise_phone(raw, region=region) == expected


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        (None, "US"),
        ("", "US"),
        ("(415) 555-0100", None),  # a local number needs a region
        ("0044 20 7946 0958", None),
        ("12345", "US"),
        ("call me maybe", "US"),
        ("+1 415 555", None),
        ("020 7946 0958", "ZZ"),  # no such region
    ],
)
def test_invalid_phone_is_no_identity(raw: str | None, region: str | None) -> None:
    assert normalise_phone(raw, region=region) is None


def test_order_keys_come_in_priority_order(make_order) -> None:
    order = make_order(
        store_id="store-a",
        email=" Ada@Example.com",
        phone="(415) 555-0100",
        customer_ref="c-1",
        shipping_country="US",
    )
    assert order_identity_keys(order) == [EMAIL, PHONE, REF]


def test_phone_region_is_shipping_then_billing_then_store_country(make_order) -> None:
    uk_shipping = make_order(
        phone="020 7946 0958", shipping_country="GB", billing_country="US", store_country="US"
    )
    us_billing = make_order(phone="(415) 555-0100", billing_country="US", store_country="GB")
    us_store = make_order(phone="(415) 555-0100", store_country="US")
    nowhere = make_order(phone="(415) 555-0100")
    phone = IdentityKind.PHONE
    assert IdentityKey(phone, "+442079460958") in order_identity_keys(uk_shipping)
    assert IdentityKey(phone, "+14155550100") in order_identity_keys(us_billing)
    assert IdentityKey(phone, "+14155550100") in order_identity_keys(us_store)
    assert [k.kind for k in order_identity_keys(nowhere)] == [IdentityKind.EMAIL]


def test_invalid_contact_data_gives_no_keys(make_order) -> None:
    order = make_order(email="ada(at)example.com", phone="n/a", customer_ref=None)
    assert order_identity_keys(order) == []


def test_store_ref_is_scoped_to_its_store(make_order) -> None:
    keys = order_identity_keys(make_order(email=None, store_id="store-b", customer_ref="c-1"))
    assert keys == [IdentityKey(IdentityKind.STORE_REF, "c-1", "store-b")]
    assert keys[0] != REF


def test_resolution_prefers_email_then_phone_then_store_ref() -> None:
    keys = [REF, PHONE, EMAIL]
    assert resolve(keys, {EMAIL: "by-email", PHONE: "by-phone", REF: "by-ref"}) == "by-email"
    assert resolve(keys, {PHONE: "by-phone", REF: "by-ref"}) == "by-phone"
    assert resolve(keys, {REF: "by-ref"}) == "by-ref"
    assert resolve(keys, {}) is None


def test_resolution_ignores_owners_of_keys_the_order_lacks() -> None:
    other = IdentityKey(IdentityKind.EMAIL, "someone@example.com")
    assert resolve([PHONE], {other: "someone", PHONE: "by-phone"}) == "by-phone"
