import json
from decimal import Decimal
from typing import Any

import pytest
from crm_events.customer import (
    CUSTOMER_MERGED,
    CustomerMerged,
    CustomerSnapshot,
    Identity,
    IdentityKind,
)
from crm_events.order import ORDER_PLACED, OrderPaid, OrderPlaced, OrderSnapshot
from crm_events.registry import CONTRACTS
from crm_events.shop import CANONICAL_ORDER_EXAMPLE, CanonicalOrder
from pydantic import ValidationError


def test_a_snapshot_carries_the_canonical_order_and_our_fields() -> None:
    order = CanonicalOrder.model_validate({**CANONICAL_ORDER_EXAMPLE, "source_name": "web"})

    snapshot = OrderPaid.from_order(order, order_id="o-1", version=3)

    assert isinstance(snapshot, OrderSnapshot)
    assert snapshot.order_id == "o-1"
    assert snapshot.version == 3
    assert snapshot.net_paid == Decimal("32.00")
    assert snapshot.total == order.total
    assert snapshot.model_extra == {"source_name": "web"}


def test_snapshot_fields_are_required() -> None:
    with pytest.raises(ValidationError) as caught:
        OrderPlaced.model_validate(CANONICAL_ORDER_EXAMPLE)

    assert {error["loc"] for error in caught.value.errors()} == {
        ("order_id",),
        ("net_paid",),
        ("version",),
    }


def test_order_events_are_keyed_by_order_id() -> None:
    order = CanonicalOrder.model_validate(CANONICAL_ORDER_EXAMPLE)
    event = ORDER_PLACED.event(OrderPlaced.from_order(order, order_id="o-7", version=1))

    assert event.subject == "o-7"
    assert event.source == "order-sync"
    CONTRACTS.validate(json.loads(event.model_dump_json()))


def test_a_store_ref_identity_needs_its_store() -> None:
    assert Identity(kind=IdentityKind.EMAIL, value="ann@example.com").store_id is None
    with pytest.raises(ValidationError, match="store_id"):
        Identity(kind=IdentityKind.STORE_REF, value="c-1")


def test_the_schema_also_requires_the_store_of_a_store_ref() -> None:
    envelope = CONTRACTS.example_envelope(CONTRACTS.get("crm.customer.identity_linked"))
    envelope["data"]["identity"] = {"kind": "store_ref", "value": "c-1", "store_id": None}

    with pytest.raises(ValueError, match=r"\$\.data\.identity\.store_id"):
        CONTRACTS.validate(envelope)


def snapshot_data(**changes: Any) -> dict[str, Any]:
    data = dict(CONTRACTS.get("crm.customer.created").example)
    data.update(changes)
    return data


def test_customer_phone_is_e164() -> None:
    assert CustomerSnapshot.model_validate(snapshot_data()).phone == "+14155550100"
    with pytest.raises(ValidationError, match="phone"):
        CustomerSnapshot.model_validate(snapshot_data(phone="+1 415 555 0100"))


def test_customer_stats_start_empty() -> None:
    data = snapshot_data()
    del data["stats"]

    stats = CustomerSnapshot.model_validate(data).stats

    assert stats.orders_count == 0
    assert stats.total_spent == Decimal("0")
    assert stats.currency is None


def test_a_merge_names_two_customers_and_is_keyed_by_the_merged_one() -> None:
    merge = CustomerMerged.model_validate(CUSTOMER_MERGED.example)

    assert CUSTOMER_MERGED.key_of(merge) == merge.merged_id
    with pytest.raises(ValidationError, match="must differ"):
        CustomerMerged.model_validate({**CUSTOMER_MERGED.example, "merged_id": merge.survivor_id})
