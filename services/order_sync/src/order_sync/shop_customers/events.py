"""Canonical shop customer accounts to the `shop.customer.upserted` events order-sync relays."""

import hashlib
import json
from typing import Any
from uuid import UUID, uuid5

from crm_common.envelope import CloudEvent
from crm_events.shop_activity import SHOP_CUSTOMER_UPSERTED, ShopCustomerUpserted

SOURCE = "order-sync"

# Never change: every relayed account event id ever issued is derived from it.
_EVENT_ID_NAMESPACE = UUID("8e0f4c2a-71d5-4b39-a6e8-5f13c9d7b204")


def customer_ref(store_id: str, external_id: str) -> str:
    """The shop customer reference that keys shop.activity.v1: store ids never contain `:`."""
    return f"{store_id}:{external_id}"


def digest(customer: ShopCustomerUpserted) -> str:
    """SHA-256 of the account's canonical JSON (keys sorted), the same for the same content."""
    document = json.dumps(customer.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(document.encode()).hexdigest()


def customer_upserted(customer: ShopCustomerUpserted, *, ref: str, body: str) -> CloudEvent[Any]:
    """`shop.customer.upserted` for one revision; its id is derived from the account and the
    revision's content (`body`, its digest), so the same revision always has the same id."""
    return SHOP_CUSTOMER_UPSERTED.event(
        customer,
        source=SOURCE,
        id=str(uuid5(_EVENT_ID_NAMESPACE, json.dumps([ref, body]))),
        subject=ref,
        time=customer.updated_at,
    )
