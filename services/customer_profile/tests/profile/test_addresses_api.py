"""Addresses from orders on real Kafka and PostgreSQL: one per place, on the profile and the
export, moved by merges and back by undos, gone with erasure."""

from typing import Any

import pytest
from crm_events.shop import Address
from sqlalchemy import text

pytestmark = pytest.mark.integration

HOME = {
    "name": "Ann Lee",
    "line1": "12 Rue de l'Église",
    "city": "Besançon",
    "postal_code": "25000",
    "country": "FR",
}
HOME_RETYPED = {
    "name": "A. LEE",
    "line1": "12 rue de l eglise",
    "city": "BESANCON",
    "postal_code": "25 000",
    "country": "fr",
}
OFFICE = {"line1": "1 Main St", "line2": "Floor 3", "city": "Springfield", "country": "US"}


def _with(order: Any, *, shipping: dict[str, Any] | None, billing: dict[str, Any] | None) -> Any:
    return order.model_copy(
        update={
            "shipping_address": Address.model_validate(shipping) if shipping else None,
            "billing_address": Address.model_validate(billing) if billing else None,
        }
    )


async def _addresses(running, customer_id: str, count: int) -> list[dict[str, Any]]:
    async def found() -> list[dict[str, Any]]:
        response = await running.client.get(f"/v1/customers/{customer_id}")
        assert response.status_code == 200, response.text
        places: list[dict[str, Any]] = response.json()["addresses"]
        assert len(places) == count
        return places

    return await running.eventually(found)


async def test_addresses_from_two_orders_one_per_place(running) -> None:
    first = _with(
        running.make_order(placed_at=running.make_order().placed_at, email="ann@example.com"),
        shipping=HOME,
        billing=HOME,
    )
    await running.publish(first)
    customer_id = (await running.customer_of("ann@example.com"))["customer_id"]
    second = _with(
        running.make_order(
            placed_at=first.placed_at.replace(day=9), email="ann@example.com", version=1
        ),
        shipping=HOME_RETYPED,
        billing=OFFICE,
    )
    await running.publish(second)
    await running.customer_of("ann@example.com", orders=2)

    home, office = await _addresses(running, customer_id, 2)
    assert home == {
        "kinds": ["billing", "shipping"],
        **dict.fromkeys(("line2", "region")),
        **{key: value for key, value in HOME_RETYPED.items() if key != "country"},
        "country": "FR",
        "first_seen_at": "2026-03-01T12:00:00Z",
        "last_seen_at": "2026-03-09T12:00:00Z",
        "orders": 2,
    }
    assert office["kinds"] == ["billing"]
    assert (office["line1"], office["line2"], office["orders"]) == ("1 Main St", "Floor 3", 1)

    # A newer snapshot of the second order without its billing address drops the office.
    await running.publish(
        _with(second.model_copy(update={"version": 2}), shipping=HOME_RETYPED, billing=None),
        "crm.order.paid",
    )
    (only,) = await _addresses(running, customer_id, 1)
    assert only["kinds"] == ["shipping", "billing"] or only["kinds"] == ["billing", "shipping"]
    assert only["orders"] == 2

    export = await running.client.get(f"/v1/customers/{customer_id}:export")
    assert export.status_code == 200
    assert export.json()["profile"]["addresses"] == [only]

    patched = await running.client.patch(
        f"/v1/customers/{customer_id}",
        json={"traits": {"size": "M"}, "tags": {"add": ["vip"]}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200
    erase = await running.client.post(f"/v1/customers/{customer_id}:erase")
    assert erase.status_code == 200
    async with running.app.state.runtime.sessions() as session:
        for table in ("order_addresses", "customer_attributes", "customer_tags"):
            left = await session.scalar(text(f"SELECT count(*) FROM {table}"))
            assert left == 0, table
        terms = await session.scalar(
            text("SELECT count(*) FROM customer_name_terms WHERE customer_id = :id"),
            {"id": customer_id},
        )
    assert terms == 0


async def test_addresses_move_with_a_merge_and_go_back_on_undo(running) -> None:
    await running.publish(
        _with(running.make_order(email="one@example.com"), shipping=HOME, billing=None)
    )
    one = (await running.customer_of("one@example.com"))["customer_id"]
    await running.publish(
        _with(running.make_order(email="two@example.com"), shipping=OFFICE, billing=None)
    )
    two = (await running.customer_of("two@example.com"))["customer_id"]

    merge = await running.client.post(f"/v1/customers/{one}:merge", json={"merge_with": two})
    assert merge.status_code == 201
    assert {a["line1"] for a in await _addresses(running, one, 2)} == {
        "12 Rue de l'Église",
        "1 Main St",
    }

    undo = await running.client.post(f"/v1/merges/{merge.json()['merge_id']}:undo")
    assert undo.status_code == 200
    assert [a["line1"] for a in await _addresses(running, one, 1)] == ["12 Rue de l'Église"]
    assert [a["line1"] for a in await _addresses(running, two, 1)] == ["1 Main St"]
