"""Shopify refunds and fulfilments, as Shopify documents and sends them, to canonical records."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from crm_events.order_records import PaymentKind, PaymentStatus, ReturnStatus, ShipmentStatus
from crm_events.shop import FinancialStatus
from order_sync.connectors import shopify, shopify_records
from order_sync.connectors._fields import PayloadError, parse_json_object

Payload = Callable[[str], dict[str, Any]]
NEW_YEAR = datetime(2022, 1, 1, tzinfo=UTC)  # 2021-12-31T19:00:00-05:00 in the payloads


def reparsed(value: dict[str, Any]) -> dict[str, Any]:
    """`value` after a trip through JSON, as a webhook body would carry it."""
    return parse_json_object(json.dumps(value, default=str).encode())


def test_the_documented_refund_maps_field_by_field(payload: Payload) -> None:
    part = shopify_records.part_from_payload(
        "refunds/create", payload("shopify/refunds_create"), store_id="s1"
    )

    assert (part.store_id, part.order_external_id, part.at) == (
        "s1",
        "820982911946154500",
        NEW_YEAR,
    )
    assert (part.shipments, part.returns) == ((), ())
    (refund,) = part.refunds
    assert refund.external_id == "890088186047892400"  # the docs' id, rounded upstream
    assert refund.amount == Decimal("85.00")  # its two successful refund transactions
    assert refund.currency is None  # the order's
    assert (refund.gateway, refund.status) == ("bogus", PaymentStatus.SUCCESS)
    assert refund.processed_at == NEW_YEAR
    assert refund.note == "Things were damaged"
    assert refund.restocked is False  # both lines no_restock
    assert [line.restocked for line in refund.lines] == [False, False]
    assert [
        (line.line_external_id, line.sku, line.quantity, line.amount) for line in refund.lines
    ] == [
        ("866550311766439000", "IPOD2008PINK", 1, Decimal("199.00")),
        ("141249953214522980", "IPOD2008PINK", 1, Decimal("199.00")),
    ]


def test_refund_lines_restocked_as_returned_make_a_received_return(payload: Payload) -> None:
    body = payload("shopify/refunds_create")
    body["refund_line_items"][1]["restock_type"] = "return"

    part = shopify_records.part_from_payload("refunds/create", body, store_id="s1")

    assert part.refunds[0].restocked is True
    (returned,) = part.returns
    assert returned.external_id == "refund-890088186047892400"
    assert returned.status is ReturnStatus.RECEIVED
    assert returned.received_at == NEW_YEAR
    assert [(line.line_external_id, line.sku, line.quantity) for line in returned.lines] == [
        ("141249953214522980", "IPOD2008PINK", 1)
    ]


@pytest.mark.parametrize("restock_type", ["cancel", "legacy_restock"])
def test_refund_lines_restocked_with_the_refund_are_marked_restocked(
    payload: Payload, restock_type: str
) -> None:
    body = payload("shopify/refunds_create")
    body["refund_line_items"][0]["restock_type"] = restock_type
    body["refund_line_items"][1]["restock_type"] = "return"

    part = shopify_records.part_from_payload("refunds/create", body, store_id="s1")

    (refund,) = part.refunds
    assert refund.restocked is True
    # The returned line restocks through its return, not twice.
    assert [line.restocked for line in refund.lines] == [True, False]
    assert [line.line_external_id for line in part.returns[0].lines] == ["141249953214522980"]


def test_a_return_linked_to_the_refund_is_named_by_its_own_id(payload: Payload) -> None:
    body = payload("shopify/refunds_create")
    body["refund_line_items"][0]["restock_type"] = "return"
    body["return"] = {"id": 945000954, "admin_graphql_api_id": "gid://shopify/Return/945000954"}

    part = shopify_records.part_from_payload("refunds/create", body, store_id="s1")

    assert part.returns[0].external_id == "945000954"


@pytest.mark.parametrize(
    ("statuses", "amount", "status"),
    [
        (["success", "failure"], "75.00", PaymentStatus.SUCCESS),
        (["pending", "pending"], "0", PaymentStatus.PENDING),
        (["failure", "error"], "0", PaymentStatus.FAILURE),
    ],
)
def test_only_successful_refund_transactions_count(
    payload: Payload, statuses: list[str], amount: str, status: PaymentStatus
) -> None:
    body = payload("shopify/refunds_create")
    for transaction, state in zip(body["transactions"], statuses, strict=True):
        transaction["status"] = state

    (refund,) = shopify_records.part_from_payload("refunds/create", body, store_id="s").refunds

    assert (refund.amount, refund.status) == (Decimal(amount), status)


def test_the_documented_fulfilment_maps_field_by_field(payload: Payload) -> None:
    part = shopify_records.part_from_payload(
        "fulfillments/create", payload("shopify/fulfillments_create"), store_id="s1"
    )

    assert (part.order_external_id, part.at) == ("820982911946154500", NEW_YEAR)
    (shipment,) = part.shipments
    assert shipment.external_id == "123456"
    assert shipment.status is ShipmentStatus.PENDING  # status pending, no shipment_status
    assert shipment.carrier == "UPS"
    assert shipment.tracking_numbers == ["1z827wk74630"]
    assert shipment.tracking_urls == [
        "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630"
    ]
    assert [(line.line_external_id, line.sku, line.quantity) for line in shipment.lines] == [
        ("866550311766439000", "IPOD2008PINK", 1),
        ("141249953214522980", "IPOD2008PINK", 1),
    ]
    assert shipment.shipped_at == shipment.updated_at == NEW_YEAR


@pytest.mark.parametrize(
    ("status", "shipment_status", "expected"),
    [
        ("open", None, ShipmentStatus.PENDING),
        ("success", None, ShipmentStatus.CONFIRMED),
        ("success", "label_printed", ShipmentStatus.LABEL_PRINTED),
        ("success", "in_transit", ShipmentStatus.IN_TRANSIT),
        ("success", "out_for_delivery", ShipmentStatus.OUT_FOR_DELIVERY),
        ("success", "attempted_delivery", ShipmentStatus.ATTEMPTED_DELIVERY),
        ("success", "delivered", ShipmentStatus.DELIVERED),
        ("success", "picked_up", ShipmentStatus.DELIVERED),
        ("success", "failure", ShipmentStatus.FAILURE),
        ("cancelled", "in_transit", ShipmentStatus.CANCELLED),
        ("error", None, ShipmentStatus.FAILURE),
    ],
)
def test_a_fulfilments_status_and_the_carriers_word_make_the_shipment_status(
    payload: Payload, status: str, shipment_status: str | None, expected: ShipmentStatus
) -> None:
    body = payload("shopify/fulfillments_create")
    body.update(status=status, shipment_status=shipment_status)

    part = shopify_records.part_from_payload("fulfillments/update", body, store_id="s")

    assert part.shipments[0].status is expected


def test_older_fulfilments_with_one_tracking_number_keep_it(payload: Payload) -> None:
    body = payload("shopify/fulfillments_create")
    del body["tracking_numbers"], body["tracking_urls"]

    (shipment,) = shopify_records.part_from_payload(
        "fulfillments/create", body, store_id="s"
    ).shipments

    assert shipment.tracking_numbers == ["1z827wk74630"]
    assert shipment.tracking_urls[0].endswith("trackNums=1z827wk74630")


def test_a_part_that_does_not_map_names_each_field_at_fault(payload: Payload) -> None:
    fulfilment = payload("shopify/fulfillments_create")
    fulfilment.update(order_id=None, status="shipped", shipment_status="lost_at_sea")
    fulfilment["line_items"][0]["quantity"] = "one"
    refund = payload("shopify/refunds_create")
    refund["transactions"][0]["amount"] = 75.5
    refund["refund_line_items"][0]["restock_type"] = "maybe"

    with pytest.raises(PayloadError) as shipped:
        shopify_records.part_from_payload("fulfillments/create", fulfilment, store_id="s")
    with pytest.raises(PayloadError) as refunded:
        shopify_records.part_from_payload("refunds/create", reparsed(refund), store_id="s")

    assert {p.field for p in shipped.value.problems} == {
        "order_id",
        "status",
        "shipment_status",
        "line_items[0].quantity",
    }
    # 75.5 is read exactly (never through a float) and is a fine amount; the restock is not.
    assert {p.field for p in refunded.value.problems} == {"refund_line_items[0].restock_type"}


def test_an_order_payload_carries_its_refunds_fulfilments_and_returns(payload: Payload) -> None:
    order = payload("shopify/orders_create")
    refund = payload("shopify/refunds_create")
    refund["refund_line_items"][0]["restock_type"] = "return"
    fulfilment = payload("shopify/fulfillments_create")
    fulfilment.update(status="success", shipment_status="delivered")
    order.update(financial_status="partially_refunded", refunds=[refund], fulfillments=[fulfilment])

    mapped = shopify.order_from_payload(order, store_id="s1")

    assert mapped.financial_status is FinancialStatus.PARTIALLY_REFUNDED
    assert mapped.refunded_total == Decimal("85.00")
    assert [(r.external_id, r.amount) for r in mapped.refunds] == [
        ("890088186047892400", Decimal("85.00"))
    ]
    assert [(s.external_id, s.status) for s in mapped.shipments] == [
        ("123456", ShipmentStatus.DELIVERED)
    ]
    assert [(r.external_id, r.received) for r in mapped.returns] == [
        ("refund-890088186047892400", True)
    ]


def test_a_bad_refund_inside_an_order_is_named_by_its_path(payload: Payload) -> None:
    order = payload("shopify/orders_create")
    refund = payload("shopify/refunds_create")
    refund["transactions"][1]["amount"] = "ten"
    order["refunds"] = [refund]
    order["fulfillments"] = [{**payload("shopify/fulfillments_create"), "status": "lost"}]

    with pytest.raises(PayloadError) as error:
        shopify.order_from_payload(order, store_id="s1")

    fields = {problem.field for problem in error.value.problems}
    assert "refunds[0].transactions[1].amount" in fields
    assert "fulfillments[0].status" in fields


def test_the_documented_transaction_maps_field_by_field(payload: Payload) -> None:
    part = shopify_records.part_from_payload(
        "order_transactions/create", payload("shopify/order_transactions_create"), store_id="s1"
    )

    assert (part.store_id, part.order_external_id) == ("s1", "820982911946154500")
    # Undated: merged just after the stored revision, whatever the transaction's own time.
    assert part.at is None
    assert (part.refunds, part.shipments, part.returns) == ((), (), ())
    (payment,) = part.payments
    assert payment.external_id == "120560818172775260"  # the docs' id, rounded upstream
    assert (payment.kind, payment.status) == (PaymentKind.AUTHORIZATION, PaymentStatus.SUCCESS)
    assert payment.amount == Decimal("403.00")
    assert (payment.currency, payment.gateway) == ("USD", "visa")
    assert payment.processed_at == NEW_YEAR  # processed_at is null: created_at
    assert payment.parent_id is None
    # Not a test transaction, and nothing else of it (card, receipt, message) is kept.
    assert payment.model_extra == {}


def test_transaction_ids_beyond_2_53_keep_every_digit(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    raw = (
        fixture_bytes("shopify/order_transactions_create")
        .replace(b'"id": 120560818172775260', b'"id": 120560818172775265')
        .replace(b'"order_id": 820982911946154500', b'"order_id": 820982911946154508')
        .replace(b'"parent_id": null', b'"parent_id": 245135271310201194')
    )

    part = shopify_records.part_from_payload(
        "order_transactions/create", parse_json_object(raw), store_id="s1"
    )

    (payment,) = part.payments
    assert part.order_external_id == "820982911946154508"
    assert (payment.external_id, payment.parent_id) == ("120560818172775265", "245135271310201194")


def test_a_capture_names_its_authorization_and_a_test_one_says_so(payload: Payload) -> None:
    body = payload("shopify/order_transactions_create")
    body.update(
        id=120560818172775266,
        kind="capture",
        parent_id=120560818172775260,
        processed_at="2022-01-02T10:00:00-05:00",
        currency=None,
        test=True,
    )

    (payment,) = shopify_records.part_from_payload(
        "order_transactions/create", body, store_id="s1"
    ).payments

    assert (payment.kind, payment.parent_id) == (PaymentKind.CAPTURE, "120560818172775260")
    assert payment.processed_at == datetime(2022, 1, 2, 15, tzinfo=UTC)
    assert payment.currency is None  # the order's
    assert payment.model_extra == {"test": True}


@pytest.mark.parametrize("kind", ["authorization", "capture", "sale", "void", "refund"])
@pytest.mark.parametrize("status", ["pending", "success", "failure", "error"])
def test_every_documented_kind_and_status_is_the_payments_own(
    payload: Payload, kind: str, status: str
) -> None:
    body = payload("shopify/order_transactions_create")
    body.update(kind=kind, status=status)

    (payment,) = shopify_records.part_from_payload(
        "order_transactions/create", body, store_id="s"
    ).payments

    assert (payment.kind.value, payment.status.value) == (kind, status)


def test_a_transaction_that_does_not_map_names_each_field_at_fault(payload: Payload) -> None:
    body = payload("shopify/order_transactions_create")
    body.update(
        kind="emv_authorization",
        status="awaiting_response",
        amount="ten",
        currency="dollars",
        processed_at="yesterday",
        order_id=None,
    )
    del body["id"]
    unsettled = payload("shopify/order_transactions_create")
    del unsettled["kind"]
    unsettled["status"] = None

    with pytest.raises(PayloadError) as error:
        shopify_records.part_from_payload("order_transactions/create", body, store_id="s")
    with pytest.raises(PayloadError) as missing:
        shopify_records.part_from_payload("order_transactions/create", unsettled, store_id="s")

    assert {p.field for p in error.value.problems} == {
        "order_id",
        "id",
        "kind",
        "status",
        "amount",
        "currency",
        "processed_at",
    }
    assert {p.field for p in missing.value.problems} == {"kind", "status"}
    assert all("known: " in p.message for p in missing.value.problems)
