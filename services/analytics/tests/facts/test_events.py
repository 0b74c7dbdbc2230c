from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from analytics.facts.events import order_fact


def test_a_fact_keeps_the_numbers_and_the_shop_customer_id_but_no_contact_details(
    make: Any,
) -> None:
    snapshot = make.order(
        store_id="s1",
        placed_at=datetime(2023, 3, 1, 12, tzinfo=UTC),
        net_paid="19.50",
        customer_ref="c-1",
        version=3,
    )

    fact = order_fact(snapshot, customer_id=None)

    assert fact.order_id == snapshot.order_id
    assert (fact.store_id, fact.currency, fact.version) == ("s1", "USD", 3)
    assert fact.net_paid == Decimal("19.50")
    assert fact.customer_ref == "c-1"
    assert fact.customer_id is None
    stored = " ".join(str(value) for value in fact.model_dump().values())
    assert "ann@example.com" not in stored
    assert "Ann" not in stored
