"""Canonical orders to snapshots and CloudEvents, checked against the committed contracts."""

import json
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from crm_common.envelope import to_json_bytes
from crm_events.order import OrderSnapshot
from crm_events.registry import CONTRACTS
from crm_events.shop import CANONICAL_ORDER_EXAMPLE, CanonicalOrder
from order_sync.orders.events import encoded_lifecycle_events, order_id_for, snapshot
from order_sync.orders.lifecycle import OrderEventType


def canonical(**overrides: Any) -> CanonicalOrder:
    return CanonicalOrder.model_validate({**CANONICAL_ORDER_EXAMPLE, **overrides})


def test_order_id_is_a_uuid_fixed_by_store_and_shop_order_id() -> None:
    order_id = order_id_for("demo", "1001")

    assert UUID(order_id).version == 5
    assert order_id == order_id_for("demo", "1001")
    assert order_id != order_id_for("demo", "1002")
    assert order_id != order_id_for("demo2", "1001")
    # The parts cannot run into each other, whatever they contain.
    assert order_id_for("a/b", "c") != order_id_for("a", "b/c")
    assert order_id_for("a", "b,c") != order_id_for("a,b", "c")


def test_snapshot_carries_every_canonical_field_and_unknown_ones() -> None:
    order = canonical(
        financial_status="partially_refunded",
        total="40.00",
        refunded_total="12.50",
        gift_wrap={"paper": "red"},
    )

    data = snapshot(order, order_id="o-1", version=3, store_country="US")

    dumped = data.model_dump()
    for name, value in order.model_dump().items():
        assert dumped[name] == value, name
    assert dumped["gift_wrap"] == {"paper": "red"}
    assert data.order_id == "o-1"
    assert data.version == 3
    assert data.net_paid == Decimal("27.50")
    assert data.store_country == "US"


def test_net_paid_is_zero_until_payment_is_captured() -> None:
    order = canonical(financial_status="authorized")

    data = snapshot(order, order_id="o", version=1, store_country=None)

    assert data.net_paid == Decimal("0")


def encoded(event_type: OrderEventType, data: OrderSnapshot) -> tuple[str, bytes]:
    [(event_id, payload)] = encoded_lifecycle_events(data, [event_type])
    return event_id, payload


@pytest.mark.parametrize("event_type", list(OrderEventType))
def test_each_event_matches_its_committed_schema(event_type: OrderEventType) -> None:
    order_id = order_id_for("demo", "1001")
    data = snapshot(canonical(), order_id=order_id, version=2, store_country="US")

    event_id, payload = encoded(event_type, data)
    envelope = json.loads(payload)

    CONTRACTS.validate(envelope)  # raises ContractViolation
    assert envelope["id"] == event_id
    assert envelope["type"] == event_type.value
    assert envelope["source"] == "order-sync"
    assert envelope["subject"] == order_id
    assert envelope["dataschema"] == CONTRACTS.get(event_type.value).schema_id
    assert envelope["time"] == "2026-11-01T10:05:00Z"  # the order's updated_at
    assert envelope["data"]["order_id"] == order_id
    assert envelope["data"]["version"] == 2
    assert envelope["data"]["total"] == "32.00"
    assert envelope["data"]["net_paid"] == "32.00"


@pytest.mark.parametrize("event_type", list(OrderEventType))
def test_encoded_events_are_the_bytes_of_their_contracts_envelope(
    event_type: OrderEventType,
) -> None:
    order = canonical(note='thé "spécial"\n', gift_wrap={"paper": "red"})
    data = snapshot(order, order_id=order_id_for("demo", "1001"), version=3, store_country="US")
    event_id, payload = encoded(event_type, data)

    event = CONTRACTS.get(event_type.value).event(
        data, source="order-sync", id=event_id, time=data.updated_at
    )

    assert payload == to_json_bytes(event)


def test_the_events_of_one_change_come_in_the_order_given() -> None:
    data = snapshot(
        canonical(), order_id=order_id_for("demo", "1001"), version=1, store_country=None
    )
    types = [OrderEventType.PLACED, OrderEventType.PAID]

    kinds = [json.loads(payload)["type"] for _, payload in encoded_lifecycle_events(data, types)]

    assert kinds == [t.value for t in types]
    assert encoded_lifecycle_events(data, []) == []


def test_event_ids_are_fixed_by_order_version_and_type() -> None:
    order_id = order_id_for("demo", "1001")
    v1 = snapshot(canonical(), order_id=order_id, version=1, store_country=None)
    v2 = snapshot(canonical(), order_id=order_id, version=2, store_country=None)

    placed, _ = encoded(OrderEventType.PLACED, v1)

    assert placed == encoded(OrderEventType.PLACED, v1)[0]
    assert placed != encoded(OrderEventType.PAID, v1)[0]
    assert placed != encoded(OrderEventType.PLACED, v2)[0]
