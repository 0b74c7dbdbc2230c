"""What a timeline entry takes from an order or an event, and what it leaves out."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from crm_common.envelope import CloudEvent
from crm_events.customer import IdentityKind
from customer_profile.customers.identities import DEFAULT_GUARD, IdentityKey
from customer_profile.timeline import activity
from customer_profile.timeline.entries import Milestone, event_draft, milestones, order_drafts
from pydantic import ValidationError

PLACED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_new_order_gives_its_placed_milestone_only(make_order) -> None:
    order = make_order(financial_status="pending", placed_at=PLACED)
    assert milestones(order) == [(Milestone.PLACED, PLACED)]


def test_an_order_first_seen_late_gives_every_milestone_it_reached(make_order) -> None:
    later = PLACED + timedelta(days=3)
    order = make_order(placed_at=PLACED, financial_status="refunded", refunded_total="30.00")
    order = order.model_copy(update={"updated_at": later, "fulfillment_status": "fulfilled"})
    assert milestones(order) == [
        (Milestone.PLACED, PLACED),
        (Milestone.PAID, later),
        (Milestone.FULFILLED, later),
        (Milestone.REFUNDED, later),
    ]


def test_a_cancellation_is_dated_by_cancelled_at(make_order) -> None:
    cancelled = PLACED + timedelta(hours=2)
    order = make_order(placed_at=PLACED, financial_status="voided", cancelled_at=cancelled)
    assert milestones(order) == [(Milestone.PLACED, PLACED), (Milestone.CANCELLED, cancelled)]


def test_order_entries_carry_figures_and_references_but_no_contact_data(make_order) -> None:
    order = make_order(
        placed_at=PLACED,
        total="32.50",
        email="ada@example.com",
        phone="+1 415 555 0100",
        first_name="Ada",
        last_name="Lovelace",
        customer_ref="shopper-9",
    )
    (placed, paid) = order_drafts(order)
    assert (placed.kind, paid.kind) == ("order.placed", "order.paid")
    assert placed.source_key == f"order:{order.order_id}:order.placed"
    assert placed.reference == {
        "order_id": order.order_id,
        "store_id": order.store_id,
        "external_id": order.external_id,
    }
    assert placed.summary == {
        "total": "32.50",
        "net_paid": "32.50",
        "refunded_total": "0",
        "currency": "USD",
        "financial_status": "paid",
        "fulfillment_status": "unfulfilled",
        "items": 1,
    }
    text = repr(placed)
    for personal in ("ada@example.com", "4155550100", "415 555", "Ada", "Lovelace", "shopper-9"):
        assert personal not in text


def _event(event_type: str, data: dict[str, Any]) -> CloudEvent[dict[str, Any]]:
    return CloudEvent[dict[str, Any]](
        source="support-ticket", type=event_type, data=data, time=PLACED
    )


def test_event_entries_keep_listed_fields_only() -> None:
    event = _event(
        "crm.ticket.created",
        {
            "ticket_id": 12345678901234567890,
            "customer_id": "cust-1",
            "status": "open",
            "priority": "high",
            "channel": "email",
            "subject": "Ada Lovelace: where is my order?",
            "requester": {"email": "ada@example.com"},
            "total": 12.5,
            "tags": ["vip"],
            "order_id": "",
        },
    )
    draft = event_draft(event)
    assert draft.kind == "ticket.created"
    assert (draft.source, draft.occurred_at, draft.source_key) == (
        "support-ticket",
        PLACED,
        event.id,
    )
    assert draft.reference == {"ticket_id": "12345678901234567890"}
    assert draft.summary == {"status": "open", "priority": "high", "channel": "email"}


def _shop(event_type: str, data: dict[str, Any]) -> CloudEvent[dict[str, Any]]:
    return CloudEvent[dict[str, Any]](source="shop/s1", type=event_type, data=data, time=PLACED)


def test_activity_names_its_shopper_by_valid_unblocked_identities() -> None:
    viewed = activity.parse(
        _shop(
            "shop.product.viewed",
            {
                "store_id": "s1",
                "product_id": 42,
                "viewed_at": "2026-03-01T11:00:00Z",
                "customer": {"external_id": 42, "email": " Ada@Example.COM ", "phone": "n/a"},
                "anonymous_id": "anon-1",
            },
        )
    )
    assert viewed.keys(guard=DEFAULT_GUARD) == [
        IdentityKey(IdentityKind.EMAIL, "ada@example.com"),
        IdentityKey(IdentityKind.STORE_REF, "42", "s1"),
    ]
    assert viewed.anonymous_digest() not in (None, "anon-1")
    # Other types are read leniently, by the same names or flat ones.
    junk = activity.parse(
        _shop("shop.wishlist.added", {"store_id": "s1", "customer_ref": "guest", "email": "x"})
    )
    assert junk.keys(guard=DEFAULT_GUARD) == []
    assert junk.anonymous_digest() is None
    phone = activity.parse(
        _shop("shop.wishlist.added", {"store_id": "s1", "phone": "+1 415 555 0100", "x": [1]})
    )
    assert phone.keys(guard=DEFAULT_GUARD) == [IdentityKey(IdentityKind.PHONE, "+14155550100")]


def test_activity_entries_follow_their_contracts() -> None:
    lines = [
        {"name": "Mug", "quantity": 2, "unit_price": "12.50", "product_id": "p-7"},
        {"name": "Tea", "quantity": 1, "unit_price": "7.00"},
    ]
    cart = {
        "store_id": "s1",
        "cart_id": "k-1",
        "customer": {"email": "ada@example.com", "first_name": "Ada"},
        "lines": lines,
        "currency": "usd",
        "total": "32.00",
        "updated_at": "2026-03-01T11:00:00Z",
    }
    revision = activity.parse(_shop("shop.cart.updated", cart)).draft
    again = activity.parse(_shop("shop.cart.updated", cart)).draft
    assert revision.source_key == again.source_key != revision.source_event_id
    assert (revision.kind, revision.occurred_at) == (
        "cart.updated",
        datetime.fromisoformat("2026-03-01T11:00:00+00:00"),
    )
    assert revision.reference == {"store_id": "s1", "cart_id": "k-1"}
    assert revision.summary == {"total": "32.00", "currency": "USD", "items": 3}

    checkout = {
        **cart,
        "checkout_id": 981820079255243537,
        "started_at": "2026-03-01T11:05:00Z",
        "recovery_url": "https://s1.example/recover?key=secret",
    }
    first = activity.parse(_shop("shop.checkout.started", checkout)).draft
    later = activity.parse(
        _shop("shop.checkout.started", {**checkout, "updated_at": "2026-03-01T11:09:00Z"})
    ).draft
    assert first.source_key == later.source_key  # one start, however often it is sent
    assert first.occurred_at == later.occurred_at == datetime(2026, 3, 1, 11, 5, tzinfo=UTC)
    assert first.reference == {
        "store_id": "s1",
        "checkout_id": "981820079255243537",
        "cart_id": "k-1",
    }
    assert "secret" not in repr(first)
    assert "Ada" not in repr(first)


def test_activity_breaking_its_contract_is_invalid() -> None:
    with pytest.raises(ValidationError, match="viewed_at"):
        activity.parse(_shop("shop.product.viewed", {"store_id": "s1", "product_id": "p"}))
    with pytest.raises(ValidationError, match="store_id"):
        activity.parse(_shop("shop.wishlist.added", {"customer": {"email": "ada@example.com"}}))
    with pytest.raises(ValidationError, match="external_id"):
        activity.parse(
            _shop("shop.wishlist.added", {"store_id": "s1", "customer": {"external_id": 1.5}})
        )
