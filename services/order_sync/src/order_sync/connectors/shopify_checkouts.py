"""Shopify's checkout webhook payload (REST Admin API abandoned `Checkout`) to our canonical
checkout (`crm_events.shop_activity.ShopCheckout`).

`checkouts/create` and `checkouts/update` carry the whole checkout. Its `token` is the checkout
id, since an order placed from it names it in `checkout_token` (the Shopify order mapping makes
that the order's `checkout_id`), and `cart_token` ties both to the cart. Amounts are in the
shop's currency (`currency`), as its totals are.
"""

from decimal import Decimal
from typing import Any

from crm_events.shop_activity import ShopCheckout

from order_sync.connectors._contract import validated
from order_sync.connectors._fields import Json, Reader
from order_sync.connectors.shopify import _first_text

CHECKOUT_TOPICS = frozenset({"checkouts/create", "checkouts/update"})


def checkout_from_payload(payload: Json, *, store_id: str) -> ShopCheckout:
    """The canonical checkout a Shopify checkout payload describes; raises `PayloadError`."""
    read = Reader()
    customer = read.obj(payload.get("customer"), "customer")
    billing = read.obj(payload.get("billing_address"), "billing_address")
    token = read.ident(payload.get("token"), "token")
    if token is None:
        read.fail("token", "the checkout's token is required: it is the checkout's id")
    lines = [
        _line(read, item, f"line_items[{index}]")
        for index, item in enumerate(read.items(payload.get("line_items"), "line_items"))
    ]
    created_at = read.time(payload.get("created_at"), "created_at")
    if created_at is None:
        read.fail("created_at", "the time the checkout started is required")
    contact = {
        "external_id": read.ident(customer.get("id"), "customer.id"),
        # The same precedence as the order mapping, so that the abandonment rule compares the
        # checkout's customer with the order's like with like.
        "email": _first_text(read, (customer, "customer.email"), (payload, "email")),
        "phone": _first_text(read, (customer, "customer.phone"), (payload, "phone")),
        "first_name": _first_text(
            read, (customer, "customer.first_name"), (billing, "billing_address.first_name")
        ),
        "last_name": _first_text(
            read, (customer, "customer.last_name"), (billing, "billing_address.last_name")
        ),
    }
    fields: dict[str, Any] = {
        "store_id": store_id,
        "checkout_id": token,
        "cart_id": read.text(payload.get("cart_token"), "cart_token") or None,
        "customer": contact if any(v is not None for v in contact.values()) else None,
        "lines": lines,
        "currency": read.code(payload.get("currency"), "currency", length=3),
        "total": read.money(payload.get("total_price"), "total_price"),
        "started_at": created_at,
        "updated_at": read.time(payload.get("updated_at"), "updated_at"),
        "recovery_url": read.text(payload.get("abandoned_checkout_url"), "abandoned_checkout_url"),
        "completed_at": read.time(payload.get("completed_at"), "completed_at"),
    }
    read.check()
    return validated(ShopCheckout, fields, origin="canonical")


def _line(read: Reader, item: Json, path: str) -> dict[str, Any]:
    price = read.money(item.get("price"), f"{path}.price")
    quantity = read.integer(item.get("quantity"), f"{path}.quantity")
    allocations = read.items(item.get("discount_allocations"), f"{path}.discount_allocations")
    amounts = [
        read.money(a.get("amount"), f"{path}.discount_allocations[{i}].amount")
        for i, a in enumerate(allocations)
    ]
    discount = sum((a for a in amounts if a is not None), Decimal(0))
    total = price * quantity - discount if price is not None and quantity is not None else None
    return {
        "sku": read.text(item.get("sku"), f"{path}.sku"),
        "name": read.text(item.get("name"), f"{path}.name")
        or read.text(item.get("title"), f"{path}.title"),
        "quantity": quantity,
        "unit_price": price,
        "variant_id": read.ident(item.get("variant_id"), f"{path}.variant_id"),
        "product_id": read.ident(item.get("product_id"), f"{path}.product_id"),
        "total": total,
    }
