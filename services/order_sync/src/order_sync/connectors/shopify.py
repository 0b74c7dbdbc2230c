"""Shopify's order webhook payload (REST Admin API `Order`) to our canonical order.

Every `orders/*` topic carries the whole order, its refunds and fulfilments included
(`connectors/shopify_records.py`), so one mapping serves them all. Amounts are read
in the shop's currency (`currency`, `*_set.shop_money`), the one every total of the order is in.
"""

from decimal import Decimal
from typing import Any

from crm_events.shop import CanonicalOrder, FinancialStatus, FulfillmentStatus

from order_sync.connectors._fields import Json, Reader, canonical
from order_sync.connectors.shopify_records import refunds_of_order, shipments_of_order

ORDER_TOPICS = frozenset(
    {"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled"}
)

# Shopify's `financial_status` values. `partially_paid` counts as pending (the order payload
# lists no transactions that would say what was captured); `expired` (an authorization that
# lapsed) as voided.
_FINANCIAL = {
    "pending": FinancialStatus.PENDING,
    "unpaid": FinancialStatus.PENDING,
    "partially_paid": FinancialStatus.PENDING,
    "authorized": FinancialStatus.AUTHORIZED,
    "paid": FinancialStatus.PAID,
    "partially_refunded": FinancialStatus.PARTIALLY_REFUNDED,
    "refunded": FinancialStatus.REFUNDED,
    "voided": FinancialStatus.VOIDED,
    "expired": FinancialStatus.VOIDED,
}

# `null` means nothing shipped yet; `restocked` means the items went back to stock unshipped;
# `pending` is what older payloads (such as the test notification) send for the same thing.
_FULFILLMENT = {
    None: FulfillmentStatus.UNFULFILLED,
    "unfulfilled": FulfillmentStatus.UNFULFILLED,
    "pending": FulfillmentStatus.UNFULFILLED,
    "restocked": FulfillmentStatus.UNFULFILLED,
    "partial": FulfillmentStatus.PARTIAL,
    "fulfilled": FulfillmentStatus.FULFILLED,
}


def order_from_payload(payload: Json, *, store_id: str) -> CanonicalOrder:
    """The canonical order a Shopify order payload describes; raises `PayloadError`."""
    read = Reader()
    customer = read.obj(payload.get("customer"), "customer")
    billing = read.obj(payload.get("billing_address"), "billing_address")
    lines = [
        _line(read, item, f"line_items[{index}]")
        for index, item in enumerate(read.items(payload.get("line_items"), "line_items"))
    ]
    created_at = read.time(payload.get("created_at"), "created_at")
    refunds, returns = refunds_of_order(read, payload)
    fields: dict[str, Any] = {
        "store_id": store_id,
        "external_id": read.ident(payload.get("id"), "id"),
        # processed_at is the date Shopify shows and reports on (it differs from created_at
        # for imported orders); the test notification leaves it null.
        "placed_at": read.time(payload.get("processed_at"), "processed_at") or created_at,
        "updated_at": read.time(payload.get("updated_at"), "updated_at"),
        "currency": read.code(payload.get("currency"), "currency", length=3),
        "financial_status": _status(read, _FINANCIAL, payload, "financial_status", "pending"),
        "fulfillment_status": _status(read, _FULFILLMENT, payload, "fulfillment_status", None),
        "cancelled_at": read.time(payload.get("cancelled_at"), "cancelled_at"),
        "customer": {
            "external_id": read.ident(customer.get("id"), "customer.id"),
            "email": _first_text(
                read, (customer, "customer.email"), (payload, "email"), (payload, "contact_email")
            ),
            "phone": _first_text(read, (customer, "customer.phone"), (payload, "phone")),
            "first_name": _first_text(
                read, (customer, "customer.first_name"), (billing, "billing_address.first_name")
            ),
            "last_name": _first_text(
                read, (customer, "customer.last_name"), (billing, "billing_address.last_name")
            ),
            "accepts_marketing": _accepts_marketing(read, payload, customer),
        },
        "lines": lines,
        "billing_address": _address(read, billing, "billing_address"),
        "shipping_address": _address(
            read, read.obj(payload.get("shipping_address"), "shipping_address"), "shipping_address"
        ),
        "note": read.text(payload.get("note"), "note"),
        "tags": _tags(read, payload.get("tags")),
        # The checkout's token is its id in the checkouts/* webhooks (connectors/
        # shopify_checkouts.py): with the cart token, it tells the abandonment sweeper that
        # this order followed that checkout.
        "checkout_id": read.ident(payload.get("checkout_token"), "checkout_token"),
        "cart_token": read.text(payload.get("cart_token"), "cart_token"),
        "discount_total": read.money(payload.get("total_discounts"), "total_discounts"),
        "shipping_total": _shipping_total(read, payload),
        "tax_total": read.money(payload.get("total_tax"), "total_tax"),
        "total": read.money(payload.get("total_price"), "total_price"),
        "refunded_total": _refunded_total(read, payload),
        "refunds": refunds,
        "shipments": shipments_of_order(read, payload),
        "returns": returns,
    }
    if payload.get("test") is True:
        # Kept with the order so consumers can tell a test order (or Shopify's "send test
        # notification" sample) from a real sale.
        fields["test"] = True
    read.check()
    return canonical(fields, origin="canonical")


def _status(
    read: Reader, table: dict[Any, Any], payload: Json, field: str, default: str | None
) -> Any:
    value = payload.get(field)
    if value is None:
        value = default
    if not (value is None or isinstance(value, str)) or value not in table:
        known = ", ".join(sorted(str(key) for key in table if key is not None))
        read.fail(field, f"unknown status {value!r} (known: {known}, or null)")
        return None
    return table[value]


def _first_text(read: Reader, *sources: tuple[Json, str]) -> str | None:
    for source, path in sources:
        value = read.text(source.get(path.rsplit(".", 1)[-1]), path)
        if value and value.strip():
            return value
    return None


def _accepts_marketing(read: Reader, payload: Json, customer: Json) -> bool:
    # The current API states consent per channel; `accepts_marketing` is its deprecated
    # predecessor; the order's own flag is what the buyer ticked at checkout.
    consent = read.obj(customer.get("email_marketing_consent"), "customer.email_marketing_consent")
    if consent.get("state") is not None:
        return consent.get("state") == "subscribed"
    for source in (customer.get("accepts_marketing"), payload.get("buyer_accepts_marketing")):
        if isinstance(source, bool):
            return source
    return False


def _line(read: Reader, item: Json, path: str) -> dict[str, Any]:
    price = read.money(item.get("price"), f"{path}.price")
    quantity = read.integer(item.get("quantity"), f"{path}.quantity")
    allocations = read.items(item.get("discount_allocations"), f"{path}.discount_allocations")
    discount: Decimal | None
    if allocations:
        # discount_allocations replaced the deprecated total_discount.
        amounts = [
            read.money(a.get("amount"), f"{path}.discount_allocations[{i}].amount")
            for i, a in enumerate(allocations)
        ]
        discount = sum((a for a in amounts if a is not None), Decimal(0))
    else:
        discount = read.money(item.get("total_discount"), f"{path}.total_discount", required=False)
    total = None
    if price is not None and quantity is not None:
        total = price * quantity - (discount or 0)
    return {
        "external_id": read.ident(item.get("id"), f"{path}.id"),
        "sku": read.text(item.get("sku"), f"{path}.sku"),
        "name": read.text(item.get("name"), f"{path}.name")
        or read.text(item.get("title"), f"{path}.title"),
        "quantity": quantity,
        "unit_price": price,
        "variant_id": read.ident(item.get("variant_id"), f"{path}.variant_id"),
        "product_id": read.ident(item.get("product_id"), f"{path}.product_id"),
        "discount_total": discount,
        "total": total,
    }


def _address(read: Reader, address: Json, path: str) -> dict[str, Any] | None:
    if not address:
        return None
    name = read.text(address.get("name"), f"{path}.name")
    if not (name and name.strip()):
        parts = [
            read.text(address.get(key), f"{path}.{key}") for key in ("first_name", "last_name")
        ]
        name = " ".join(part for part in parts if part) or None
    return {
        "name": name,
        "line1": read.text(address.get("address1"), f"{path}.address1"),
        "line2": read.text(address.get("address2"), f"{path}.address2"),
        "city": read.text(address.get("city"), f"{path}.city"),
        "region": read.text(address.get("province_code"), f"{path}.province_code")
        or read.text(address.get("province"), f"{path}.province"),
        "postal_code": read.text(address.get("zip"), f"{path}.zip"),
        "country": read.code(address.get("country_code"), f"{path}.country_code", length=2),
    }


def _tags(read: Reader, value: Any) -> list[str]:
    # Shopify sends tags as one comma-separated string.
    tags = read.text(value, "tags") or ""
    return [tag.strip() for tag in tags.split(",") if tag.strip()]


def _shipping_total(read: Reader, payload: Json) -> Decimal | None:
    shipping_set = payload.get("total_shipping_price_set")
    if shipping_set is not None:
        shop_money = read.obj(
            read.obj(shipping_set, "total_shipping_price_set").get("shop_money"),
            "total_shipping_price_set.shop_money",
        )
        return read.money(shop_money.get("amount"), "total_shipping_price_set.shop_money.amount")
    # Payloads older than total_shipping_price_set (the 2017 test notification) only list
    # the shipping lines.
    total = Decimal(0)
    for index, line in enumerate(read.items(payload.get("shipping_lines"), "shipping_lines")):
        key = "discounted_price" if line.get("discounted_price") is not None else "price"
        amount = read.money(line.get(key), f"shipping_lines[{index}].{key}")
        total += amount or 0
    return total


def _refunded_total(read: Reader, payload: Json) -> Decimal:
    total = Decimal(0)
    for r, refund in enumerate(read.items(payload.get("refunds"), "refunds")):
        path = f"refunds[{r}].transactions"
        for t, transaction in enumerate(read.items(refund.get("transactions"), path)):
            # Only money that actually went back: failed or pending refund attempts do not count.
            if transaction.get("kind") == "refund" and transaction.get("status") == "success":
                amount = read.money(transaction.get("amount"), f"{path}[{t}].amount")
                total += amount or 0
    return total
