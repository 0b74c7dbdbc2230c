"""Stored orders to and from the event contracts: snapshots and their crm.orders.v1 events."""

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid5

from crm_common.contracts import EventContract
from crm_common.envelope import encode_event
from crm_events.order import (
    ORDER_CANCELLED,
    ORDER_DELIVERED,
    ORDER_FULFILLED,
    ORDER_PAID,
    ORDER_PARTIALLY_REFUNDED,
    ORDER_PLACED,
    ORDER_REFUNDED,
    ORDER_RETURNED,
    ORDER_SHIPMENT_UPDATED,
    ORDER_UPDATED,
    OrderSnapshot,
)
from crm_events.shop import CanonicalOrder

from order_sync.orders.lifecycle import OrderEventType

SOURCE = "order-sync"

# Never change: every order id ever issued is derived from it.
ORDER_ID_NAMESPACE = UUID("8d0f6c2e-51a4-4b7e-9a53-6f1d2c4b7e90")

CONTRACTS: dict[OrderEventType, EventContract[Any]] = {
    OrderEventType.PLACED: ORDER_PLACED,
    OrderEventType.PAID: ORDER_PAID,
    OrderEventType.FULFILLED: ORDER_FULFILLED,
    OrderEventType.CANCELLED: ORDER_CANCELLED,
    OrderEventType.PARTIALLY_REFUNDED: ORDER_PARTIALLY_REFUNDED,
    OrderEventType.REFUNDED: ORDER_REFUNDED,
    OrderEventType.UPDATED: ORDER_UPDATED,
    OrderEventType.SHIPMENT_UPDATED: ORDER_SHIPMENT_UPDATED,
    OrderEventType.DELIVERED: ORDER_DELIVERED,
    OrderEventType.RETURNED: ORDER_RETURNED,
}


def order_id_for(store_id: str, external_id: str) -> str:
    """Our id of a shop order: the same shop and shop order id always give the same id."""
    # A JSON array keeps the two parts apart whatever characters they contain.
    return str(uuid5(ORDER_ID_NAMESPACE, json.dumps([store_id, external_id])))


def snapshot(
    order: CanonicalOrder, *, order_id: str, version: int, store_country: str | None
) -> OrderSnapshot:
    """The order as stored at `version`, unknown fields included, with its store's country
    (the default region for the customer's phone number)."""
    return OrderSnapshot.from_order(
        order, order_id=order_id, version=version, store_country=store_country
    )


def encoded_lifecycle_events(
    data: OrderSnapshot, events: Sequence[OrderEventType]
) -> list[tuple[str, bytes]]:
    """The id and bytes of each of `events` announcing `data`, the snapshot serialised once.

    Each id is derived from the order, version and type, so one stored change can never yield
    two different events of one type. The bytes are those of the contract's `CloudEvent`,
    written without building it: every order event's model is the snapshot under another
    name, so the validated snapshot serialises exactly as its contract says.
    """
    if not events:
        return []
    data_json = data.model_dump_json().encode()
    namespace = UUID(data.order_id)
    encoded = []
    for event_type in events:
        contract = CONTRACTS[event_type]
        event_id = str(uuid5(namespace, f"{data.version}/{event_type.value}"))
        payload = encode_event(
            id=event_id,
            source=SOURCE,
            type=contract.type,
            subject=data.order_id,
            time=data.updated_at or data.placed_at,
            dataschema=contract.schema_id,
            data_json=data_json,
        )
        encoded.append((event_id, payload))
    return encoded
