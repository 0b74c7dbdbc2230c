"""The database rows that store one revision of an order, as plain column dictionaries.

Plain dictionaries feed multi-row statements directly; building ORM objects first would cost
more than the statements themselves in a batch.
"""

from datetime import datetime
from typing import Any

from crm_events.order import OrderSnapshot
from crm_events.shop import CanonicalOrder

from order_sync.orders.schemas import Channel


def order_row(
    order: CanonicalOrder,
    data: OrderSnapshot,
    *,
    created_at: datetime,
    changed_at: datetime,
    channel: Channel | None,
) -> dict[str, Any]:
    """The `orders` row of `order` stored as `data` (its snapshot at `data.version`)."""
    return {
        "order_id": data.order_id,
        "store_id": data.store_id,
        "external_id": data.external_id,
        "placed_at": data.placed_at,
        # The contract fills a missing updated_at from placed_at.
        "updated_at": data.updated_at or data.placed_at,
        "currency": data.currency,
        "financial_status": data.financial_status.value,
        "fulfillment_status": data.fulfillment_status.value,
        "cancelled_at": data.cancelled_at,
        "discount_total": data.discount_total,
        "shipping_total": data.shipping_total,
        "tax_total": data.tax_total,
        "total": data.total,
        "refunded_total": data.refunded_total,
        "net_paid": data.net_paid,
        "customer_external_id": data.customer.external_id,
        "customer_email": data.customer.email,
        "customer_phone": data.customer.phone,
        "version": data.version,
        "body": order.model_dump(mode="json"),
        "created_at": created_at,
        "changed_at": changed_at,
        "changed_via": channel.value if channel is not None else None,
    }


def line_rows(data: OrderSnapshot) -> list[dict[str, Any]]:
    """The `order_lines` rows of the revision `data`, in the shop's order."""
    return [
        {
            "order_id": data.order_id,
            "position": position,
            "external_id": line.external_id,
            "sku": line.sku,
            "name": line.name,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount_total": line.discount_total,
            "total": line.total,
            "variant_id": line.variant_id,
            "product_id": line.product_id,
        }
        for position, line in enumerate(data.lines)
    ]
