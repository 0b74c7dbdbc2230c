"""Shopify's refunds, fulfilments and transactions (REST Admin API `Refund`, `Fulfillment` and
`Transaction`) to the records of our canonical order: refunds, shipments, the returns that refunds
restock, and payments.

Refunds and fulfilments come inside every `orders/*` payload (`refunds`, `fulfillments`) and on
their own as `refunds/create`, `fulfillments/create` and `fulfillments/update`; transactions come
only on their own, as `order_transactions/create`. Each names its order by `order_id`. A refund
line restocked as `return` is a return received; one restocked as `cancel` (or the deprecated
`legacy_restock`) went back in stock with the refund.
"""

from decimal import Decimal
from typing import Any, TypeVar

from crm_events.order_records import Payment, Refund, Return, Shipment
from pydantic import BaseModel, ValidationError

from order_sync.connectors._fields import FieldProblem, Json, PayloadError, Reader
from order_sync.orders.parts import OrderPart

REFUNDS_CREATE = "refunds/create"
TRANSACTIONS_CREATE = "order_transactions/create"
FULFILLMENT_TOPICS = frozenset({"fulfillments/create", "fulfillments/update"})
PART_TOPICS = frozenset({REFUNDS_CREATE, TRANSACTIONS_CREATE, *FULFILLMENT_TOPICS})

# A fulfilment's own `status`: cancelled, failed, or not shipped yet.
_FULFILMENT_STATUS = {
    "pending": "pending",
    "open": "pending",
    "success": "confirmed",
    "cancelled": "cancelled",
    "error": "failure",
    "failure": "failure",
}
# The carrier's word on it (`shipment_status`), which wins once there is one.
_SHIPMENT_STATUS = {
    "label_printed": "label_printed",
    "label_purchased": "label_purchased",
    "confirmed": "confirmed",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "attempted_delivery": "attempted_delivery",
    "ready_for_pickup": "ready_for_pickup",
    "carrier_picked_up": "carrier_picked_up",
    "delayed": "delayed",
    "delivered": "delivered",
    "picked_up": "delivered",
    "failure": "failure",
}
_RESTOCKED_WITH_REFUND = frozenset({"cancel", "legacy_restock"})
_RESTOCKED = frozenset({"return", *_RESTOCKED_WITH_REFUND})
_RESTOCK_TYPES = {kind: kind for kind in ("no_restock", *_RESTOCKED)}
# A `Transaction`'s `kind` and `status` as the REST resource documents them; they are the
# canonical payment's own words.
_TRANSACTION_KINDS = {kind: kind for kind in ("authorization", "capture", "sale", "void", "refund")}
_TRANSACTION_STATUSES = {status: status for status in ("pending", "success", "failure", "error")}


def part_from_payload(topic: str, payload: Json, *, store_id: str) -> OrderPart:
    """The records a `refunds/create`, `order_transactions/create` or `fulfillments/*` payload
    carries; raises `PayloadError`."""
    read = Reader()
    order_id = read.ident(payload.get("order_id"), "order_id")
    if order_id is None:
        read.fail("order_id", "the order's id is required")
    if topic == TRANSACTIONS_CREATE:
        fields = payment(read, payload, "")
        read.check()
        # Undated, so merged just after the stored revision: a transaction changes nothing else
        # of the order, and Shopify dates the orders/* revision it causes (financial status
        # paid, say) within the same second, which would then look no newer and be lost.
        return OrderPart(
            store_id, str(order_id), None, payments=(_valid(Payment, fields, "payment"),)
        )
    if topic == REFUNDS_CREATE:
        fields, returned = refund(read, payload, "")
        at = read.time(payload.get("created_at"), "created_at") or fields["processed_at"]
        read.check()
        return OrderPart(
            store_id,
            str(order_id),
            at,
            refunds=(_valid(Refund, fields, "refund"),),
            returns=(_valid(Return, returned, "return"),) if returned else (),
        )
    fields = shipment(read, payload, "")
    read.check()
    at = fields["updated_at"] or fields["shipped_at"]
    return OrderPart(store_id, str(order_id), at, shipments=(_valid(Shipment, fields, "shipment"),))


def refunds_of_order(
    read: Reader, payload: Json
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """An order payload's `refunds` as canonical refunds, and the returns they received."""
    refunds, returns = [], []
    for index, item in enumerate(read.items(payload.get("refunds"), "refunds")):
        fields, returned = refund(read, item, f"refunds[{index}].")
        refunds.append(fields)
        if returned is not None:
            returns.append(returned)
    return refunds, returns


def shipments_of_order(read: Reader, payload: Json) -> list[dict[str, Any]]:
    """An order payload's `fulfillments` as canonical shipments."""
    return [
        shipment(read, item, f"fulfillments[{index}].")
        for index, item in enumerate(read.items(payload.get("fulfillments"), "fulfillments"))
    ]


def refund(read: Reader, item: Json, path: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A Shopify refund, and the return it received (its lines restocked as `return`) if any.

    The refund's amount is what its successful `refund` transactions gave back.
    """
    transactions = [
        (index, t)
        for index, t in enumerate(read.items(item.get("transactions"), f"{path}transactions"))
        if t.get("kind") == "refund"
    ]
    amount, statuses = Decimal(0), []
    for index, transaction in transactions:
        statuses.append(transaction.get("status"))
        if transaction.get("status") == "success":
            value = read.money(transaction.get("amount"), f"{path}transactions[{index}].amount")
            amount += value or 0
    # A refund that only restocked moves no money; one whose transactions all failed or are
    # pending counts for nothing yet.
    status = "success" if "success" in statuses or not statuses else statuses[0]
    gateway = None
    if transactions:
        index, first = transactions[0]
        gateway = read.text(first.get("gateway"), f"{path}transactions[{index}].gateway")
    processed_at = read.time(item.get("processed_at"), f"{path}processed_at") or read.time(
        item.get("created_at"), f"{path}created_at"
    )
    raw_lines = read.items(item.get("refund_line_items"), f"{path}refund_line_items")
    lines = [
        _refund_line(read, line, f"{path}refund_line_items[{index}]")
        for index, line in enumerate(raw_lines)
    ]
    restock_types = [str(line.get("restock_type")) for line in raw_lines]
    for line, restock in zip(lines, restock_types, strict=True):
        # Units cancelled before they shipped go back on the shelf with the refund itself;
        # returned ones come back through the return below.
        line["restocked"] = restock in _RESTOCKED_WITH_REFUND
    fields = {
        "external_id": read.ident(item.get("id"), f"{path}id"),
        "amount": amount,
        "gateway": gateway,
        "status": status if status in ("success", "pending", "failure", "error") else "error",
        "processed_at": processed_at,
        "note": read.text(item.get("note"), f"{path}note"),
        "lines": lines,
        "restocked": item.get("restock") is True or any(t in _RESTOCKED for t in restock_types),
    }
    returned = [
        {key: line[key] for key in ("line_external_id", "sku", "quantity")}
        for line, restock in zip(lines, restock_types, strict=True)
        if restock == "return" and isinstance(line["quantity"], int) and line["quantity"] > 0
    ]
    if not returned:
        return fields, None
    # The Return the refund closes, when the shop used Shopify's returns; else the refund.
    linked = read.obj(item.get("return"), f"{path}return")
    key = read.ident(linked.get("id"), f"{path}return.id") or f"refund-{fields['external_id']}"
    return fields, {
        "external_id": key,
        "status": "received",
        "lines": returned,
        "received_at": processed_at,
    }


def shipment(read: Reader, item: Json, path: str) -> dict[str, Any]:
    """A Shopify fulfilment as a shipment."""
    own = _code(read, item, path, "status", _FULFILMENT_STATUS) or "pending"
    carrier_status = _code(read, item, path, "shipment_status", _SHIPMENT_STATUS)
    status = _FULFILMENT_STATUS[own]
    if status not in ("cancelled", "failure") and carrier_status is not None:
        status = _SHIPMENT_STATUS[carrier_status]
    return {
        "external_id": read.ident(item.get("id"), f"{path}id"),
        "status": status,
        "carrier": read.text(item.get("tracking_company"), f"{path}tracking_company"),
        "tracking_numbers": _texts(read, item, path, "tracking_numbers", "tracking_number"),
        "tracking_urls": _texts(read, item, path, "tracking_urls", "tracking_url"),
        "lines": [
            {
                "line_external_id": read.ident(line.get("id"), f"{path}line_items[{index}].id"),
                "sku": read.text(line.get("sku"), f"{path}line_items[{index}].sku"),
                "quantity": read.integer(
                    line.get("quantity"), f"{path}line_items[{index}].quantity"
                ),
            }
            for index, line in enumerate(read.items(item.get("line_items"), f"{path}line_items"))
        ],
        "shipped_at": read.time(item.get("created_at"), f"{path}created_at"),
        "updated_at": read.time(item.get("updated_at"), f"{path}updated_at"),
    }


def payment(read: Reader, item: Json, path: str) -> dict[str, Any]:
    """A Shopify transaction as a payment.

    A `refund` transaction stays a payment only: its money is counted by the refund that
    `refunds/create` (or the order's `refunds`) brings with its lines, never twice.
    """
    fields: dict[str, Any] = {
        "external_id": read.ident(item.get("id"), f"{path}id"),
        "kind": _required_code(read, item, path, "kind", _TRANSACTION_KINDS),
        "status": _required_code(read, item, path, "status", _TRANSACTION_STATUSES),
        "amount": read.money(item.get("amount"), f"{path}amount"),
        "currency": read.code(item.get("currency"), f"{path}currency", length=3),
        "gateway": read.text(item.get("gateway"), f"{path}gateway"),
        "processed_at": read.time(item.get("processed_at"), f"{path}processed_at")
        or read.time(item.get("created_at"), f"{path}created_at"),
        "parent_id": read.ident(item.get("parent_id"), f"{path}parent_id"),
    }
    if fields["external_id"] is None:
        # Copies of one transaction (pending, then settled) are told apart only by its id.
        read.fail(f"{path}id", "the transaction's id is required")
    if item.get("test") is True:
        # As for a test order: kept so consumers can leave a test gateway's money out.
        fields["test"] = True
    return fields


def _required_code(
    read: Reader, item: Json, path: str, name: str, known: dict[str, str]
) -> str | None:
    if item.get(name) is None:
        read.fail(f"{path}{name}", f"required (known: {', '.join(sorted(known))})")
        return None
    return _code(read, item, path, name, known)


def _code(read: Reader, item: Json, path: str, name: str, known: dict[str, str]) -> str | None:
    """A status code from `known`, or None when null; an unknown one is a problem."""
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or value not in known:
        read.fail(f"{path}{name}", f"unknown value {value!r} (known: {', '.join(sorted(known))})")
        return None
    return value


def _refund_line(read: Reader, line: Json, path: str) -> dict[str, Any]:
    _code(read, line, f"{path}.", "restock_type", _RESTOCK_TYPES)
    # subtotal_set states the amount as a decimal string; the bare subtotal is a JSON number.
    subtotal_set = read.obj(line.get("subtotal_set"), f"{path}.subtotal_set")
    shop_money = read.obj(subtotal_set.get("shop_money"), f"{path}.subtotal_set.shop_money")
    if shop_money.get("amount") is not None:
        amount = read.money(shop_money.get("amount"), f"{path}.subtotal_set.shop_money.amount")
    else:
        amount = read.money(line.get("subtotal"), f"{path}.subtotal", required=False)
    return {
        "line_external_id": _line_id(read, line, path),
        "sku": _line_sku(read, line, path),
        "quantity": read.integer(line.get("quantity"), f"{path}.quantity"),
        "amount": amount,
    }


def _line_id(read: Reader, line: Json, path: str) -> str | None:
    if line.get("line_item_id") is not None:
        return read.ident(line.get("line_item_id"), f"{path}.line_item_id")
    item = read.obj(line.get("line_item"), f"{path}.line_item")
    return read.ident(item.get("id"), f"{path}.line_item.id")


def _line_sku(read: Reader, line: Json, path: str) -> str | None:
    item = read.obj(line.get("line_item"), f"{path}.line_item")
    return read.text(item.get("sku"), f"{path}.line_item.sku")


def _texts(read: Reader, item: Json, path: str, plural: str, single: str) -> list[str]:
    values = item.get(plural)
    if values is None:
        one = read.text(item.get(single), f"{path}{single}")
        return [one] if one else []
    if not isinstance(values, list):
        read.fail(f"{path}{plural}", "expected a list")
        return []
    texts = [read.text(value, f"{path}{plural}[{n}]") for n, value in enumerate(values)]
    return [text for text in texts if text]


ModelT = TypeVar("ModelT", bound=BaseModel)


def _valid(model: type[ModelT], fields: dict[str, Any], origin: str) -> ModelT:
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise PayloadError(
            [
                FieldProblem(".".join([origin, *(str(p) for p in item["loc"])]), str(item["msg"]))
                for item in error.errors()
            ]
        ) from error
