"""WooCommerce's order webhook payload (REST API v3 `order`) to our canonical order.

`order.created`, `order.updated` and `order.restored` carry the whole order as the REST API shows
it; `order.deleted` carries only `{"id": ...}`. WooCommerce writes its `*_gmt` times without an
offset: they are UTC. The other times are in the shop's own zone and are not used.
"""

import html
from datetime import datetime
from decimal import Decimal
from typing import Any

from crm_events.shop import CanonicalOrder, FinancialStatus, FulfillmentStatus

from order_sync.connectors._fields import Json, Reader, canonical

RESTORED_TOPIC = "order.restored"
ORDER_TOPICS = frozenset({"order.created", "order.updated", RESTORED_TOPIC})
DELETED_TOPIC = "order.deleted"

# The core statuses. Plugins add their own; those are read from the payment and completion dates.
_AWAITING_PAYMENT = frozenset({"pending", "on-hold", "checkout-draft"})
_PAID = frozenset({"processing", "completed"})
_CANCELLED = frozenset({"cancelled", "trash"})


def order_from_payload(payload: Json, *, store_id: str) -> CanonicalOrder:
    """The canonical order a WooCommerce order payload describes; raises `PayloadError`."""
    read = Reader()
    billing = read.obj(payload.get("billing"), "billing")
    lines = [
        _line(read, item, f"line_items[{index}]")
        for index, item in enumerate(read.items(payload.get("line_items"), "line_items"))
    ]
    status = read.text(payload.get("status"), "status")
    created_at = _utc(read, payload, "date_created_gmt")
    if payload.get("date_created_gmt") in (None, ""):
        read.fail("date_created_gmt", "the order's creation time (UTC) is required")
    modified_at = _utc(read, payload, "date_modified_gmt") or created_at
    total = read.money(payload.get("total"), "total")
    refunds = _refunds(read, payload)
    # Each refund's total is negative ("-10.00"): money that went back to the customer.
    refunded = sum((r["amount"] for r in refunds if r["amount"] is not None), Decimal(0))
    paid_at = _utc(read, payload, "date_paid_gmt")
    fields: dict[str, Any] = {
        "store_id": store_id,
        "external_id": read.ident(payload.get("id"), "id"),
        "placed_at": created_at,
        "updated_at": modified_at,
        "currency": read.code(payload.get("currency"), "currency", length=3),
        "financial_status": _financial_status(
            status,
            paid=paid_at is not None,
            refunded=refunded,
            total=total,
        ),
        # A completed order keeps its completion date when it is refunded later.
        "fulfillment_status": FulfillmentStatus.FULFILLED
        if status == "completed" or _utc(read, payload, "date_completed_gmt") is not None
        else FulfillmentStatus.UNFULFILLED,
        # WooCommerce records no cancellation time: the change that cancelled it is the last one.
        "cancelled_at": modified_at if status in _CANCELLED else None,
        "customer": {
            "external_id": read.ident(payload.get("customer_id"), "customer_id", zero_is_none=True),
            "email": read.text(billing.get("email"), "billing.email"),
            "phone": read.text(billing.get("phone"), "billing.phone"),
            "first_name": read.text(billing.get("first_name"), "billing.first_name"),
            "last_name": read.text(billing.get("last_name"), "billing.last_name"),
            # WooCommerce core asks for no marketing consent at checkout.
            "accepts_marketing": False,
        },
        "lines": lines,
        "billing_address": _address(read, billing, "billing"),
        "shipping_address": _address(
            read, read.obj(payload.get("shipping"), "shipping"), "shipping"
        ),
        "note": read.text(payload.get("customer_note"), "customer_note"),
        "discount_total": read.money(payload.get("discount_total"), "discount_total"),
        "shipping_total": read.money(payload.get("shipping_total"), "shipping_total"),
        "tax_total": read.money(payload.get("total_tax"), "total_tax"),
        "total": total,
        "refunded_total": refunded,
        "payments": _payments(read, payload, total=total, paid_at=paid_at),
        "refunds": refunds,
    }
    read.check()
    return canonical(fields, origin="canonical")


def deleted_order_external_id(payload: Json) -> str:
    """The shop's id of the order an `order.deleted` delivery names; raises `PayloadError`."""
    read = Reader()
    external_id = read.ident(payload.get("id"), "id")
    if payload.get("id") in (None, "", 0):
        read.fail("id", "the deleted order's id is required")
    read.check()
    return str(external_id)


def _financial_status(
    status: str | None, *, paid: bool, refunded: Decimal, total: Decimal | None
) -> FinancialStatus:
    if status == "refunded":
        return FinancialStatus.REFUNDED
    if status in _AWAITING_PAYMENT:
        return FinancialStatus.PENDING
    if status == "failed":
        return FinancialStatus.VOIDED
    if status in _CANCELLED:
        base = FinancialStatus.PAID if paid else FinancialStatus.VOIDED
    elif status in _PAID:
        base = FinancialStatus.PAID
    else:
        base = FinancialStatus.PAID if paid else FinancialStatus.PENDING
    if base == FinancialStatus.PAID and refunded > 0 and total is not None:
        return FinancialStatus.REFUNDED if refunded >= total else FinancialStatus.PARTIALLY_REFUNDED
    return base


def _utc(read: Reader, payload: Json, field: str) -> datetime | None:
    return read.time(payload.get(field), field, naive_is_utc=True)


def _line(read: Reader, item: Json, path: str) -> dict[str, Any]:
    quantity = read.integer(item.get("quantity"), f"{path}.quantity")
    subtotal = read.money(item.get("subtotal"), f"{path}.subtotal")
    total = read.money(item.get("total"), f"{path}.total")
    price = read.money(item.get("price"), f"{path}.price", required=False)
    return {
        "external_id": read.ident(item.get("id"), f"{path}.id"),
        "sku": read.text(item.get("sku"), f"{path}.sku"),
        "name": _unescaped(read.text(item.get("name"), f"{path}.name")),
        "quantity": quantity,
        "unit_price": _unit_price(subtotal, quantity, price),
        "variant_id": read.ident(
            item.get("variation_id"), f"{path}.variation_id", zero_is_none=True
        ),
        "product_id": read.ident(item.get("product_id"), f"{path}.product_id", zero_is_none=True),
        # subtotal is before the line's coupons, total after them (both without tax).
        "discount_total": subtotal - total if subtotal is not None and total is not None else None,
        "total": total,
    }


def _unescaped(name: str | None) -> str | None:
    # The REST API writes product names as WordPress stores them, with HTML entities ("&ndash;").
    return html.unescape(name) if name is not None else None


def _unit_price(
    subtotal: Decimal | None, quantity: int | None, price: Decimal | None
) -> Decimal | None:
    # `price` is PHP's float subtotal / quantity; the division of the exact subtotal is preferred
    # whenever it comes out exact (3 for 10.00 does not, and then `price` is taken as sent).
    if subtotal is not None and quantity:
        unit = subtotal / quantity
        if unit * quantity == subtotal:
            return unit
    return price


def _address(read: Reader, address: Json, path: str) -> dict[str, Any] | None:
    parts = {
        key: read.text(address.get(key), f"{path}.{key}")
        for key in ("first_name", "last_name", "address_1", "address_2", "city", "state")
    }
    postcode = read.text(address.get("postcode"), f"{path}.postcode")
    country = read.code(address.get("country"), f"{path}.country", length=2)
    # WooCommerce sends every key of an address it does not have, as "".
    if not any(value and value.strip() for value in (*parts.values(), postcode, country)):
        return None
    name = " ".join(p for p in (parts["first_name"], parts["last_name"]) if p and p.strip())
    return {
        "name": name or None,
        "line1": parts["address_1"],
        "line2": parts["address_2"],
        "city": parts["city"],
        "region": parts["state"],
        "postal_code": postcode,
        "country": country,
    }


def _payments(
    read: Reader, payload: Json, *, total: Decimal | None, paid_at: datetime | None
) -> list[dict[str, Any]]:
    # WooCommerce records one payment per order: when it was paid (`date_paid_gmt`), by which
    # method, and the gateway's transaction id, for the order's total.
    if paid_at is None or total is None:
        return []
    return [
        {
            "external_id": read.ident(payload.get("transaction_id"), "transaction_id"),
            "kind": "sale",
            "status": "success",
            "amount": total,
            "gateway": read.text(payload.get("payment_method"), "payment_method"),
            "processed_at": paid_at,
        }
    ]


def _refunds(read: Reader, payload: Json) -> list[dict[str, Any]]:
    # The order lists each refund as {id, reason, total}, the total negative; its lines and
    # date are only in the refunds endpoint, which no webhook carries.
    refunds = []
    for index, refund in enumerate(read.items(payload.get("refunds"), "refunds")):
        amount = read.money(refund.get("total"), f"refunds[{index}].total")
        refunds.append(
            {
                "external_id": read.ident(refund.get("id"), f"refunds[{index}].id"),
                "amount": abs(amount) if amount is not None else None,
                "status": "success",
                "note": read.text(refund.get("reason"), f"refunds[{index}].reason"),
            }
        )
    return refunds
