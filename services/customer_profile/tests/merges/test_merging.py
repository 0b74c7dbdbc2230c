"""Automatic merges against a real PostgreSQL database: orders whose identities join customers."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from crm_events.customer import IdentityKind
from customer_profile.customers import service
from customer_profile.customers.exceptions import NoUsableIdentity
from customer_profile.customers.identities import IdentityKey

pytestmark = pytest.mark.integration

EMAIL = IdentityKey(IdentityKind.EMAIL, "ada@example.com")
PHONE = IdentityKey(IdentityKind.PHONE, "+14155550100")


def types(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["subject"]) for e in events]


def keys(customer: Any) -> set[IdentityKey]:
    return {IdentityKey(i.kind, i.value, i.store_id) for i in customer.identities}


async def test_an_order_carrying_both_identities_merges_the_two_customers(store) -> None:
    by_email = await store.order(0, email="ada@example.com", total="10.00", last_name=None)
    by_phone = await store.order(
        1, email=None, phone="+1 415 555 0100", first_name="Augusta", last_name="King"
    )
    a, b = (await store.by(email="ada@example.com")), (await store.by(phone="+14155550100"))
    assert a.customer_id != b.customer_id
    await store.new_events()

    both = await store.order(
        2,
        email="Ada@Example.com",
        phone="(415) 555-0100",
        shipping_country="US",
        first_name=None,
        last_name=None,
        total="20.00",
    )

    events = await store.new_events()
    assert types(events) == [
        ("crm.customer.merged", b.customer_id),
        ("crm.customer.order_attributed", a.customer_id),
        ("crm.customer.updated", a.customer_id),
    ]
    merged = events[0]["data"]
    assert (merged["survivor_id"], merged["merged_id"]) == (a.customer_id, b.customer_id)
    assert merged["reason"] == "identity"
    assert merged["identity"] == {"kind": "phone", "value": "+14155550100", "store_id": None}
    updated = events[2]["data"]
    assert updated["version"] == 2
    assert {i["value"] for i in updated["identities"]} == {EMAIL.value, PHONE.value}

    survivor = await store.by(phone="+14155550100")
    assert survivor.customer_id == a.customer_id
    assert keys(survivor) == {EMAIL, PHONE}
    assert (survivor.stats.orders_count, survivor.stats.total_spent) == (3, Decimal("60.00"))
    assert survivor.stats.first_order_at == by_email.placed_at
    assert survivor.stats.last_order_at == both.placed_at
    # Most recent non-empty value of each contact field; the oldest creation time.
    assert (survivor.first_name, survivor.last_name) == ("Augusta", "King")
    assert survivor.phone == "+14155550100"
    assert survivor.created_at == a.created_at

    assert (await store.read(b.customer_id)).merged_into == a.customer_id
    async with store.sessions() as session:
        assert await service.survivor_of(session=session, customer_id=b.customer_id) == (
            a.customer_id
        )
    [entry] = await store.log()
    assert (entry.action, entry.actor, entry.reason) == ("merge", "system", "identity")
    assert entry.snapshot["orders"] == [by_phone.order_id]
    assert entry.snapshot["identities"] == [
        {"kind": "phone", "value": "+14155550100", "store_id": None}
    ]
    assert entry.snapshot["merged"]["first_name"] == "Augusta"
    assert set(entry.snapshot["fields_changed"]) >= {"phone", "first_name", "orders_count"}


async def test_the_older_customer_survives_whichever_identity_ranks_higher(store) -> None:
    await store.order(0, email=None, phone="+1 415 555 0100")
    await store.order(1, email="ada@example.com")
    older = await store.by(phone="+14155550100")
    await store.order(2, email="ada@example.com", phone="+1 415 555 0100")
    survivor = await store.by(email="ada@example.com")
    assert survivor.customer_id == older.customer_id
    assert keys(survivor) == {EMAIL, PHONE}


async def test_three_customers_joined_by_one_order_are_two_logged_merges(store) -> None:
    await store.order(0, email="ada@example.com")
    await store.order(1, email=None, phone="+1 415 555 0100")
    await store.order(2, email=None, customer_ref="c-1", store_id="store-b")
    oldest = await store.by(email="ada@example.com")
    middle = await store.by(phone="+14155550100")
    newest = await store.by(store_id="store-b", external_id="c-1")
    await store.new_events()

    await store.order(
        3, email="ada@example.com", phone="+1 415 555 0100", customer_ref="c-1", store_id="store-b"
    )

    events = await store.new_events()
    assert types(events) == [
        ("crm.customer.merged", middle.customer_id),
        ("crm.customer.merged", newest.customer_id),
        ("crm.customer.order_attributed", oldest.customer_id),
        ("crm.customer.updated", oldest.customer_id),
    ]
    assert [e["data"]["survivor_id"] for e in events[:2]] == [oldest.customer_id] * 2
    log = await store.log()
    assert [(e.survivor_id, e.merged_id) for e in log] == [
        (oldest.customer_id, middle.customer_id),
        (oldest.customer_id, newest.customer_id),
    ]
    survivor = await store.read(oldest.customer_id)
    assert len(survivor.identities) == 3
    assert survivor.stats.orders_count == 4


async def test_a_survivor_keeps_absorbing_and_chains_resolve_to_the_end(store) -> None:
    await store.order(0, email="ada@example.com")
    await store.order(1, email=None, phone="+1 415 555 0100")
    await store.order(2, email="augusta@example.com")
    first, second, third = (
        await store.by(email="ada@example.com"),
        await store.by(phone="+14155550100"),
        await store.by(email="augusta@example.com"),
    )
    await store.order(3, email="ada@example.com", phone="+1 415 555 0100")
    # The phone now belongs to the first customer; this order joins the third to it.
    await store.order(4, email="augusta@example.com", phone="+1 415 555 0100")
    survivor = await store.by(email="augusta@example.com")
    assert survivor.customer_id == first.customer_id
    assert survivor.stats.orders_count == 5
    assert [e.merged_id for e in await store.log()] == [second.customer_id, third.customer_id]

    # A survivor merged later takes its merged customers along: they resolve to the end.
    await store.order(5, email="zed@example.com")
    last = await store.by(email="zed@example.com")
    await store.merge(last.customer_id, first.customer_id)
    async with store.sessions() as session:
        assert await service.survivor_of(session=session, customer_id=second.customer_id) == (
            last.customer_id
        )


async def test_junk_identifiers_link_nobody(store) -> None:
    await store.order(0, email="test@test.com", phone="+1 415 555 0100")
    await store.order(1, email="TEST@test.com", phone="+44 20 7946 0958")
    # An order with nothing but junk identifies nobody: it is refused (and dead-lettered).
    with pytest.raises(NoUsableIdentity):
        await store.order(2, email="noreply@shop.example", customer_ref="0", store_id="woo")
    await store.order(3, email="no-reply@shop.example", customer_ref="0", phone="+1 415 555 0100")
    first = await store.by(phone="+14155550100")
    second = await store.by(phone="+442079460958")
    assert first.customer_id != second.customer_id
    assert [i.kind for i in first.identities] == ["phone"]
    assert first.email is None
    async with store.sessions() as session:
        assert await service.find_customers(session=session, email="test@test.com") == []
        assert await service.find_customers(session=session, store_id="woo", external_id="0") == []
    assert (await store.by(phone="+14155550100")).stats.orders_count == 2
    assert await store.log() == []


async def test_guest_checkouts_by_one_email_across_stores_are_one_customer(store) -> None:
    await store.order(0, store_id="store-a", customer_ref=None, email="Grace@Example.com")
    await store.order(1, store_id="store-b", customer_ref=None, email="grace@EXAMPLE.com ")
    customer = await store.by(email="grace@example.com")
    assert customer.stats.orders_count == 2
    assert [i.kind for i in customer.identities] == ["email"]
    assert await store.log() == []


async def test_a_redelivered_merging_event_changes_nothing(store) -> None:
    await store.order(0, email="ada@example.com")
    await store.order(1, email=None, phone="+1 415 555 0100")
    joining = store.order_event(store.make_order(email="ada@example.com", phone="+1 415 555 0100"))
    await store.apply(joining)
    before = (await store.events(), await store.log())
    survivor = await store.by(email="ada@example.com")

    await store.apply(joining)

    assert (await store.events(), await store.log()) == before
    again = await store.by(email="ada@example.com")
    assert (again.version, again.stats.orders_count) == (survivor.version, 3)


async def test_a_later_snapshot_of_an_order_joins_customers_too(store) -> None:
    await store.order(0, email="ada@example.com")
    first = await store.order(1, email=None, phone="+1 415 555 0100")
    older = await store.by(email="ada@example.com")
    newer = await store.by(phone="+14155550100")
    # The customer added an email to the same order: its next snapshot carries both.
    edited = store.make_order(
        order_id=first.order_id,
        external_id=first.external_id,
        placed_at=first.placed_at,
        email="ada@example.com",
        phone="+1 415 555 0100",
        version=2,
    )
    await store.apply(store.order_event(edited, "crm.order.updated"))
    survivor = await store.by(phone="+14155550100")
    assert survivor.customer_id == older.customer_id
    assert [(e.survivor_id, e.merged_id) for e in await store.log()] == [
        (older.customer_id, newer.customer_id)
    ]
    assert survivor.stats.last_order_at == first.placed_at
    assert survivor.stats.first_order_at == first.placed_at - timedelta(days=1)
