"""An order's payments, refunds, shipments and returns in the canonical order and its snapshots."""

import json
from decimal import Decimal
from typing import Any

import pytest
from crm_common.envelope import to_json_bytes
from crm_events.order import ORDER_RETURNED, OrderSnapshot
from crm_events.order_records import (
    Payment,
    Refund,
    Return,
    ShipmentStatus,
    paid_amount,
    record_key,
    refunded_amount,
)
from crm_events.registry import CONTRACTS
from crm_events.shop import CANONICAL_ORDER_EXAMPLE, CanonicalOrder
from pydantic import ValidationError


def order(**fields: Any) -> CanonicalOrder:
    return CanonicalOrder.model_validate({**CANONICAL_ORDER_EXAMPLE, **fields})


def test_an_order_without_records_has_empty_lists() -> None:
    plain = order()

    assert (plain.payments, plain.refunds, plain.shipments, plain.returns) == ([], [], [], [])


def test_refunds_give_the_refunded_total_unless_the_shop_states_it() -> None:
    refunds = [
        {"external_id": "r-1", "amount": "10.00"},
        {"external_id": "r-2", "amount": "2.50", "status": "pending"},
        {"external_id": "r-3", "amount": "1.00", "currency": "EUR"},
        {"external_id": "r-4", "amount": "3", "currency": "usd"},
    ]

    assert order(refunds=refunds).refunded_total == Decimal("13.00")
    assert order(refunds=refunds, refunded_total="20").refunded_total == Decimal("20")
    assert order().refunded_total == 0


def test_paid_counts_successful_captures_and_sales_in_the_orders_currency() -> None:
    payments = [
        Payment.model_validate(p)
        for p in (
            {"kind": "authorization", "amount": "50"},
            {"kind": "capture", "amount": "30", "parent_id": "a-1"},
            {"kind": "sale", "amount": "5", "currency": "USD"},
            {"kind": "sale", "amount": "7", "status": "failure"},
            {"kind": "sale", "amount": "9", "currency": "EUR"},
            {"kind": "void", "amount": "20"},
            {"kind": "refund", "amount": "4"},
        )
    ]

    assert paid_amount(payments, currency="USD") == Decimal("35")
    assert refunded_amount([Refund(amount=Decimal("4"))], currency="USD") == Decimal("4")


@pytest.mark.parametrize(
    "record",
    [
        {"payments": [{"kind": "sale", "amount": 12.5}]},
        {"payments": [{"kind": "gift", "amount": "1"}]},
        {"refunds": [{"amount": "1", "lines": [{"quantity": -1}]}]},
        {"shipments": [{"status": "teleported"}]},
        {"shipments": [{"lines": [{"sku": "A", "quantity": 0}]}]},
        {"returns": [{"status": "lost"}]},
        {"returns": [{"external_id": 1.5}]},
    ],
)
def test_records_are_checked_like_the_rest_of_the_order(record: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        order(**record)


def test_a_return_is_received_once_it_is_back_at_the_shop() -> None:
    received = [Return(status=s).received for s in ("requested", "open", "received", "closed")]

    assert received == [False, False, True, True]
    assert record_key(3, None) == "#3"
    assert record_key(3, "r-9") == "r-9"


def test_a_snapshot_carries_the_records_and_its_event_validates() -> None:
    shop_order = order(
        shipments=[{"external_id": 123456789012345678901, "status": "delivered"}],
        returns=[{"external_id": "r-1", "status": "closed"}],
    )

    snapshot = OrderSnapshot.from_order(shop_order, order_id="o-1", version=3)
    event = json.loads(to_json_bytes(ORDER_RETURNED.event(snapshot)))

    assert snapshot.shipments[0].external_id == "123456789012345678901"
    assert snapshot.shipments[0].status is ShipmentStatus.DELIVERED
    assert event["data"]["returns"][0]["status"] == "closed"
    CONTRACTS.validate(event)
