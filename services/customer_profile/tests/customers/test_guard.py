"""Junk identifiers: blocked values never become identities, whatever their kind."""

import re

import pytest
from crm_events.customer import IdentityKind
from customer_profile.config import Settings
from customer_profile.customers.identities import (
    DEFAULT_GUARD,
    IdentityGuard,
    IdentityKey,
    order_identity_keys,
)
from customer_profile.customers.policy import IdentityPolicy

EMAIL, PHONE, REF = IdentityKind.EMAIL, IdentityKind.PHONE, IdentityKind.STORE_REF


@pytest.mark.parametrize(
    "key",
    [
        IdentityKey(EMAIL, "test@test.com"),
        IdentityKey(EMAIL, "example@example.com"),
        IdentityKey(EMAIL, "noreply@shop.example"),
        IdentityKey(EMAIL, "no-reply@shop.example"),
        IdentityKey(EMAIL, "donotreply@shop.example"),
        IdentityKey(EMAIL, "anonymous@shop.example"),
        IdentityKey(PHONE, "+447777777777"),  # one digit repeated
        IdentityKey(PHONE, "+12345678901"),  # a straight run
        IdentityKey(PHONE, "+61412345678"),  # a run after a real mobile prefix
        IdentityKey(PHONE, "+33698765432"),  # a falling run
        IdentityKey(PHONE, "+4930123456"),
        IdentityKey(REF, "0", "woo"),  # WooCommerce's guest customer id
        IdentityKey(REF, "NULL", "store-a"),
        IdentityKey(REF, "guest", "store-a"),
        IdentityKey(REF, "n/a", "store-a"),
    ],
)
def test_default_guard_blocks_junk(key: IdentityKey) -> None:
    assert DEFAULT_GUARD.blocks(key)


@pytest.mark.parametrize(
    "key",
    [
        IdentityKey(EMAIL, "ada@example.com"),
        IdentityKey(EMAIL, "replies@shop.example"),
        IdentityKey(PHONE, "+14155550100"),
        IdentityKey(PHONE, "+442079460958"),
        IdentityKey(PHONE, "+12125550000"),
        IdentityKey(REF, "c-1", "store-a"),
        IdentityKey(REF, "10", "woo"),
    ],
)
def test_default_guard_lets_real_values_through(key: IdentityKey) -> None:
    assert not DEFAULT_GUARD.blocks(key)


def test_blocked_values_never_become_identities_but_the_rest_do(make_order) -> None:
    order = make_order(
        email="Test@Test.com", phone="+44 7777 777777", customer_ref="0", store_id="woo"
    )
    assert order_identity_keys(order) == []
    order = make_order(email="NoReply@Shop.example", phone="+1 415 555 0100", customer_ref="c-9")
    assert order_identity_keys(order) == [
        IdentityKey(PHONE, "+14155550100"),
        IdentityKey(REF, "c-9", "store-a"),
    ]
    # The raw values stay on the order itself.
    assert order.customer.email == "NoReply@Shop.example"


def test_the_guard_is_configurable() -> None:
    guard = IdentityGuard.of(
        values=["Shop@Example.com"], patterns=[r".*@mailinator\.com"], phone_min_digits=11
    )
    assert guard.blocks(IdentityKey(EMAIL, "shop@example.com"))
    assert guard.blocks(IdentityKey(EMAIL, "x1@mailinator.com"))
    assert guard.blocks(IdentityKey(PHONE, "+14155550100"))  # ten digits: too short now
    # The configuration replaces the defaults.
    assert not guard.blocks(IdentityKey(EMAIL, "test@test.com"))
    with pytest.raises(re.error):
        IdentityGuard.of(patterns=["(unclosed"])


def test_the_policy_comes_from_the_settings() -> None:
    settings = Settings(
        identity_blocklist=("vip@shop.example",),
        identity_blocked_patterns=(),
        phone_min_digits=4,
        shared_identity_limit=7,
    )
    policy = IdentityPolicy.from_settings(settings)
    assert policy.shared_identity_limit == 7
    assert policy.guard.blocks(IdentityKey(EMAIL, "VIP@shop.example"))
    assert not policy.guard.blocks(IdentityKey(EMAIL, "noreply@shop.example"))
    assert IdentityPolicy.from_settings(Settings()).guard == DEFAULT_GUARD
