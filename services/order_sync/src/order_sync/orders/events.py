"""Stored orders to and from the event contracts: snapshots and their crm.orders.v1 events."""

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid5

from crm_common.contracts import EventContract
from crm_common.envelope import encode_event
from crm_common.kafka import MAX_MESSAGE_BYTES
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
from order_sync.orders.validation import OrderProblem, Rejected

SOURCE = "order-sync"

# The record the relay publishes also holds the key and the headers (trace context, the event's
# type) and the producer's framing, all counted against MAX_MESSAGE_BYTES; this leaves them room.
EVENT_HEADROOM_BYTES = 64 * 1024
MAX_EVENT_BYTES = MAX_MESSAGE_BYTES - EVENT_HEADROOM_BYTES

# Fields a snapshot adds to the order it was made from: never the submitter's doing.
_SNAPSHOT_ONLY = frozenset(OrderSnapshot.model_fields) - frozenset(CanonicalOrder.model_fields)

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


EncodedEvents = list[tuple[str, bytes]]


def publishable_events(
    data: OrderSnapshot, events: Sequence[OrderEventType]
) -> EncodedEvents | Rejected:
    """`encoded_lifecycle_events`, or why they could never be published: an event larger than
    `MAX_EVENT_BYTES` (the check every stored change of an order passes before it is written)."""
    encoded = encoded_lifecycle_events(data, events)
    largest = max((len(payload) for _, payload in encoded), default=0)
    if largest <= MAX_EVENT_BYTES:
        return encoded
    field, size = _largest_field(data)
    message = (
        f"the order's events would take {largest} bytes, more than the {MAX_EVENT_BYTES} an "
        f"event may take"
    )
    if field:
        message += f"; {field} takes {size} of them"
    return Rejected((OrderProblem((field,) if field else (), message),))


def _largest_field(data: OrderSnapshot) -> tuple[str, int]:
    """The field of the order that takes most of its JSON, with its size ("" for none)."""
    sizes = {
        name: len(json.dumps(value, separators=(",", ":")))
        for name, value in data.model_dump(mode="json").items()
        if name not in _SNAPSHOT_ONLY
    }
    name = max(sizes, key=lambda n: sizes[n], default="")
    return name, sizes.get(name, 0)
