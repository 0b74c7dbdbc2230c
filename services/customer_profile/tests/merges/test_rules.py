"""Survivorship without a database: which value of each field a merged customer keeps."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from customer_profile.customers.models import Customer
from customer_profile.customers.profile import Profile
from customer_profile.merges.rules import (
    Party,
    changes,
    from_snapshot,
    party,
    survive,
    survivor_first,
    to_snapshot,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def someone(customer_id: str, *, created: int = 0, updated: int = 0, **fields: object) -> Party:
    values: dict[str, object] = {
        "email": None,
        "phone": None,
        "first_name": None,
        "last_name": None,
        "accepts_marketing": False,
    }
    values.update(fields)
    return Party(
        customer_id=customer_id,
        created_at=T0 + timedelta(days=created),
        updated_at=T0 + timedelta(days=updated),
        **values,  # type: ignore[arg-type]
    )


def test_contact_fields_come_from_the_newest_order_that_has_them() -> None:
    orders = Profile(email="new@example.com", first_name="Augusta", orders_count=2)
    values = survive(
        [someone("a", email="old@example.com", first_name="Ada"), someone("b")],
        orders,
        has_orders=True,
    )
    assert (values["email"], values["first_name"]) == ("new@example.com", "Augusta")


def test_non_empty_wins_over_empty_then_the_most_recently_updated_customer() -> None:
    older_update = someone("a", updated=1, phone="+14155550100", last_name="Lee")
    newer_update = someone("b", updated=5, phone="+442079460958", last_name=None)
    values = survive([older_update, newer_update], Profile(), has_orders=False)
    assert values["phone"] == "+442079460958"
    assert values["last_name"] == "Lee"
    assert values["email"] is None


def test_accepts_marketing_from_the_newest_order_else_the_newest_customer() -> None:
    parties = [someone("a", updated=1, accepts_marketing=True), someone("b", updated=2)]
    assert survive(parties, Profile(accepts_marketing=True), has_orders=True)["accepts_marketing"]
    assert not survive(parties, Profile(), has_orders=False)["accepts_marketing"]


def test_the_oldest_creation_survives_and_statistics_are_recomputed() -> None:
    orders = Profile(
        orders_count=3,
        total_spent=Decimal("42.50"),
        currency="USD",
        first_order_at=T0,
        last_order_at=T0 + timedelta(days=9),
    )
    values = survive([someone("a", created=4), someone("b", created=2)], orders, has_orders=True)
    assert values["created_at"] == T0 + timedelta(days=2)
    assert (values["orders_count"], values["total_spent"], values["currency"]) == (
        3,
        Decimal("42.50"),
        "USD",
    )
    assert (values["first_order_at"], values["last_order_at"]) == (
        orders.first_order_at,
        orders.last_order_at,
    )


def test_the_older_customer_survives_then_the_smaller_id() -> None:
    def customer(customer_id: str, days: int) -> Customer:
        at = T0 + timedelta(days=days)
        return Customer(customer_id=customer_id, created_at=at, updated_at=at)

    ordered = survivor_first([customer("a", 3), customer("c", 1), customer("b", 1)])
    assert [c.customer_id for c in ordered] == ["b", "c", "a"]


def test_a_snapshot_restores_the_fields_it_took() -> None:
    customer = Customer(
        customer_id="a",
        email="ada@example.com",
        first_name="Ada",
        accepts_marketing=True,
        total_spent=Decimal("12.50"),
        created_at=T0,
        updated_at=T0 + timedelta(days=1),
        version=3,
    )
    snapshot = to_snapshot(customer)
    assert snapshot["total_spent"] == "12.50"
    assert from_snapshot(snapshot, "a") == party(customer)
    # Restoring onto no orders gives back the snapshot's contact data and creation time.
    values = survive([from_snapshot(snapshot, "a")], Profile(), has_orders=False)
    assert (values["email"], values["first_name"], values["accepts_marketing"]) == (
        "ada@example.com",
        "Ada",
        True,
    )
    assert values["created_at"] == T0


def test_changes_name_each_field_that_differs() -> None:
    assert changes({"email": "a", "phone": None}, {"email": "b", "phone": None}) == {
        "email": {"before": "a", "after": "b"}
    }
