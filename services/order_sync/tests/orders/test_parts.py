"""Merging a refund, a fulfilment or a payment sent on its own into the stored order, never
backwards."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from crm_events.order_records import (
    Payment,
    PaymentStatus,
    Refund,
    Return,
    Shipment,
    ShipmentStatus,
)
from crm_events.shop import (
    CANONICAL_ORDER_EXAMPLE,
    CanonicalOrder,
    FinancialStatus,
    FulfillmentStatus,
)
from order_sync.orders.parts import OrderPart, fulfilment_of, merged
from order_sync.orders.records import net_of

F = FinancialStatus
S = FulfillmentStatus
STORED_AT = datetime(2026, 11, 1, 10, 5, tzinfo=UTC)
LATER = STORED_AT + timedelta(hours=3)
EARLIER = STORED_AT - timedelta(hours=3)
TICK = timedelta(microseconds=1)
LINES = [
    {"external_id": "l-1", "sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "12.50"},
    {"external_id": "l-2", "sku": "TEA-1", "name": "Tea", "quantity": 1, "unit_price": "7.00"},
]


def order(**fields: Any) -> CanonicalOrder:
    return CanonicalOrder.model_validate({**CANONICAL_ORDER_EXAMPLE, "lines": LINES, **fields})


def refund(external_id: str, amount: str, status: str = "success") -> Refund:
    return Refund.model_validate({"external_id": external_id, "amount": amount, "status": status})


def shipment(
    external_id: str, status: str, *lines: tuple[str, int], at: datetime | None = LATER
) -> Shipment:
    return Shipment.model_validate(
        {
            "external_id": external_id,
            "status": status,
            "carrier": "UPS",
            "tracking_numbers": [f"1Z{external_id}"],
            "lines": [{"line_external_id": line, "quantity": qty} for line, qty in lines],
            "updated_at": at,
        }
    )


def part(
    *,
    at: datetime | None = LATER,
    refunds: tuple[Refund, ...] = (),
    shipments: tuple[Shipment, ...] = (),
    returns: tuple[Return, ...] = (),
    payments: tuple[Payment, ...] = (),
) -> OrderPart:
    return OrderPart(
        "demo",
        "1001",
        at,
        refunds=refunds,
        shipments=shipments,
        returns=returns,
        payments=payments,
    )


def payment(external_id: str, kind: str, amount: str, status: str = "success") -> Payment:
    return Payment.model_validate(
        {"external_id": external_id, "kind": kind, "status": status, "amount": amount}
    )


def test_a_refund_of_a_paid_order_makes_it_partially_refunded_at_the_refunds_time() -> None:
    revision = merged(order(), part(refunds=(refund("r-1", "12.50"),)))

    assert revision is not None
    assert [r.external_id for r in revision.refunds] == ["r-1"]
    assert revision.refunded_total == Decimal("12.50")
    assert revision.financial_status is F.PARTIALLY_REFUNDED
    assert revision.updated_at == LATER
    assert revision.compute_net_paid() == Decimal("19.50")
    # Everything the refund says nothing about is the stored order's.
    assert revision.model_dump(
        exclude={"refunds", "refunded_total", "financial_status", "updated_at"}
    ) == order().model_dump(exclude={"refunds", "refunded_total", "financial_status", "updated_at"})


def test_refunds_adding_up_to_the_total_make_it_refunded() -> None:
    first = merged(order(), part(refunds=(refund("r-1", "12.50"),)))
    assert first is not None

    second = merged(first, part(refunds=(refund("r-2", "19.50"),)))

    assert second is not None
    assert second.refunded_total == Decimal("32.00")
    assert second.financial_status is F.REFUNDED


def test_a_part_dated_before_the_stored_order_is_dated_just_after_it() -> None:
    revision = merged(order(), part(at=EARLIER, refunds=(refund("r-1", "1"),)))

    assert revision is not None
    assert revision.updated_at == STORED_AT + TICK


def test_a_refund_already_stored_adds_nothing() -> None:
    stored = order(
        refunds=[refund("r-1", "12.50").model_dump()], financial_status="partially_refunded"
    )

    assert merged(stored, part(refunds=(refund("r-1", "12.50"),))) is None


def test_a_pending_refund_completes_but_a_late_pending_copy_never_undoes_it() -> None:
    pending = merged(order(), part(refunds=(refund("r-1", "5", status="pending"),)))
    assert pending is not None
    assert (pending.refunded_total, pending.financial_status) == (Decimal(0), F.PAID)

    done = merged(pending, part(refunds=(refund("r-1", "5"),)))
    assert done is not None
    assert (done.refunded_total, done.financial_status) == (Decimal(5), F.PARTIALLY_REFUNDED)

    assert merged(done, part(refunds=(refund("r-1", "5", status="pending"),))) is None


def test_a_refund_of_an_unpaid_order_leaves_its_financial_status() -> None:
    revision = merged(order(financial_status="authorized"), part(refunds=(refund("r-1", "5"),)))

    assert revision is not None
    assert (revision.financial_status, revision.refunded_total) == (F.AUTHORIZED, Decimal(5))


def test_the_refunded_total_never_shrinks() -> None:
    # A shop that stated more refunded than the refunds it listed so far.
    stored = order(refunded_total="20.00", financial_status="partially_refunded")

    revision = merged(stored, part(refunds=(refund("r-1", "5"),)))

    assert revision is not None
    assert revision.refunded_total == Decimal("20.00")


def test_shipments_fulfil_the_order_line_by_line() -> None:
    first = merged(order(), part(shipments=(shipment("f-1", "in_transit", ("l-1", 2)),)))
    assert first is not None
    assert first.fulfillment_status is S.PARTIAL

    second = merged(first, part(shipments=(shipment("f-2", "confirmed", ("l-2", 1)),)))
    assert second is not None
    assert second.fulfillment_status is S.FULFILLED
    assert [s.external_id for s in second.shipments] == ["f-1", "f-2"]


def test_a_newer_state_of_a_shipment_replaces_it_and_an_older_one_changes_nothing() -> None:
    stored = merged(order(), part(shipments=(shipment("f-1", "in_transit", ("l-1", 2)),)))
    assert stored is not None

    delivered = shipment("f-1", "delivered", ("l-1", 2), at=LATER + timedelta(days=1))
    newer = merged(stored, part(at=LATER + timedelta(days=1), shipments=(delivered,)))
    stale = shipment("f-1", "label_printed", ("l-1", 2), at=LATER - timedelta(hours=1))

    assert newer is not None
    assert [s.status for s in newer.shipments] == [ShipmentStatus.DELIVERED]
    assert newer.updated_at == LATER + timedelta(days=1)
    assert merged(newer, part(shipments=(stale,))) is None
    assert merged(newer, part(shipments=(delivered,))) is None


def test_a_merge_never_lowers_the_fulfilment_status() -> None:
    stored = order(fulfillment_status="fulfilled")

    revision = merged(stored, part(shipments=(shipment("f-1", "in_transit", ("l-1", 1)),)))

    assert revision is not None
    assert revision.fulfillment_status is S.FULFILLED


@pytest.mark.parametrize(
    ("shipments", "expected"),
    [
        ((), S.UNFULFILLED),
        ((shipment("f-1", "cancelled", ("l-1", 2), ("l-2", 1)),), S.UNFULFILLED),
        ((shipment("f-1", "delivered", ("l-1", 1)),), S.PARTIAL),
        (
            (shipment("f-1", "delivered", ("l-1", 1)), shipment("f-2", "pending", ("l-1", 1))),
            S.PARTIAL,
        ),
        ((shipment("f-1", "pending", ("l-1", 2), ("l-2", 1)),), S.FULFILLED),
        ((shipment("f-1", "failure", ("l-1", 2), ("l-2", 5)),), S.FULFILLED),
        ((shipment("f-1", "pending", ("l-9", 3)),), S.PARTIAL),
    ],
)
def test_what_the_shipments_not_cancelled_cover(
    shipments: tuple[Shipment, ...], expected: FulfillmentStatus
) -> None:
    assert fulfilment_of(order().lines, shipments) is expected


def test_without_line_ids_a_shipment_only_tells_that_something_shipped() -> None:
    lines = order(lines=[{"name": "Mug", "quantity": 1, "unit_price": "5"}]).lines

    assert fulfilment_of(lines, (shipment("f-1", "delivered", ("l-1", 1)),)) is S.PARTIAL


def test_a_received_return_is_added_and_never_taken_back_by_a_stale_copy() -> None:
    received = Return.model_validate({"external_id": "ret-1", "status": "received"})
    asked = Return.model_validate({"external_id": "ret-1", "status": "requested"})

    revision = merged(order(), part(returns=(received,)))

    assert revision is not None
    assert [r.received for r in revision.returns] == [True]
    assert merged(revision, part(returns=(asked,))) is None


def test_a_payment_is_added_just_after_the_stored_revision_and_moves_nothing_else() -> None:
    stored = order(financial_status="authorized")

    revision = merged(stored, part(at=None, payments=(payment("t-2", "capture", "32.00"),)))

    assert revision is not None
    assert [(p.external_id, p.kind.value) for p in revision.payments] == [("t-2", "capture")]
    assert revision.updated_at == STORED_AT + TICK
    # The financial status is the shop's to state (its orders/* revision follows).
    assert revision.model_dump(exclude={"payments", "updated_at"}) == stored.model_dump(
        exclude={"payments", "updated_at"}
    )


def test_a_pending_payment_settles_but_a_late_copy_never_takes_that_back() -> None:
    pending = merged(order(), part(at=None, payments=(payment("t-1", "sale", "32", "pending"),)))
    assert pending is not None

    settled = merged(pending, part(at=None, payments=(payment("t-1", "sale", "32"),)))
    assert settled is not None
    assert [p.status for p in settled.payments] == [PaymentStatus.SUCCESS]

    for late in ("pending", "failure", "success"):
        copy = payment("t-1", "sale", "32", late)
        assert merged(settled, part(at=None, payments=(copy,))) is None
    failed = merged(pending, part(at=None, payments=(payment("t-1", "sale", "32", "failure"),)))
    assert failed is not None
    assert merged(failed, part(at=None, payments=(payment("t-1", "sale", "32"),))) is None


def test_payments_of_other_transactions_are_added_in_turn() -> None:
    first = merged(order(), part(at=None, payments=(payment("t-1", "authorization", "32"),)))
    assert first is not None

    second = merged(first, part(at=None, payments=(payment("t-2", "capture", "32"),)))

    assert second is not None
    assert [p.external_id for p in second.payments] == ["t-1", "t-2"]
    assert second.updated_at == first.updated_at + TICK


def test_a_refund_payment_and_its_refund_count_the_money_once() -> None:
    sold = merged(order(), part(at=None, payments=(payment("t-1", "sale", "32.00"),)))
    assert sold is not None
    refunded = merged(sold, part(refunds=(refund("r-1", "12.50"),)))
    assert refunded is not None

    both = merged(refunded, part(at=None, payments=(payment("t-2", "refund", "12.50"),)))

    assert both is not None
    assert (both.refunded_total, both.financial_status) == (
        Decimal("12.50"),
        F.PARTIALLY_REFUNDED,
    )
    net = net_of(both)
    assert (net.paid, net.refunded, net.net) == (
        Decimal("32.00"),
        Decimal("12.50"),
        Decimal("19.50"),
    )


@pytest.mark.parametrize(
    ("status", "payments", "paid"),
    [
        ("paid", [], "32.00"),
        ("pending", [], "0"),
        # Payments that took no money say nothing of what was paid.
        ("paid", [payment("t-1", "authorization", "32.00")], "32.00"),
        ("authorized", [payment("t-1", "authorization", "32.00")], "0"),
        ("paid", [payment("t-1", "capture", "32.00", "pending")], "32.00"),
        ("partially_refunded", [payment("t-9", "refund", "5.00")], "32.00"),
        # Once some did, they are what was paid.
        ("paid", [payment("t-1", "authorization", "32"), payment("t-2", "capture", "20")], "20"),
        ("pending", [payment("t-1", "sale", "10"), payment("t-2", "sale", "9", "error")], "10"),
    ],
)
def test_net_paid_is_the_payments_that_took_money_else_the_captured_total(
    status: str, payments: list[Payment], paid: str
) -> None:
    stored = order(financial_status=status, payments=[p.model_dump() for p in payments])

    assert net_of(stored).paid == Decimal(paid)
