"""Stock levels to their crm.inventory.v1 events, and the topic those events go to."""

import json
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from crm_common.envelope import CloudEvent
from crm_events import topics
from crm_events.inventory import LOW_STOCK, STOCK_CHANGED, StockChangeReason
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_sync.inventory.models import StockLevel

SOURCE = "order-sync"

# Never change: every stock event id ever issued is derived from it.
_EVENT_ID_NAMESPACE = UUID("3c1e9a57-0d6b-4f28-b1a4-7e5c2d8f9b60")
_TOPIC_KEY = "order_sync.inventory_topic"


def bind_topic(sessions: async_sessionmaker[AsyncSession], topic: str) -> None:
    """Make every session of `sessions` stage stock events on `topic`.

    Stock moves inside the order flow, whose functions know nothing of this topic; the session
    they all share carries it instead of a parameter threaded through every caller.
    """
    info = dict(sessions.kw.get("info") or {})
    info[_TOPIC_KEY] = topic
    sessions.configure(info=info)


def topic_of(session: AsyncSession) -> str:
    """The topic bound to `session`'s factory, crm.inventory.v1 when none was."""
    topic = session.info.get(_TOPIC_KEY, topics.CRM_INVENTORY)
    return str(topic)


def stock_id(store_id: str, sku: str) -> str:
    """The key of a level's events: store ids never contain `:`, so the pair stays apart."""
    return f"{store_id}:{sku}"


def level_events(
    level: StockLevel,
    *,
    previous: int | None,
    reason: StockChangeReason,
    order_id: str | None,
    low: bool,
    at: datetime,
) -> list[CloudEvent[Any]]:
    """The events owed for `level` as it is after one change: `stock_changed`, and
    `low_stock` too when it crossed its threshold (`low`). Each id is derived from the level
    and its version, so one change can never be announced twice."""
    data = {
        "stock_id": stock_id(level.store_id, level.sku),
        "store_id": level.store_id,
        "sku": level.sku,
        "quantity": level.quantity,
        "previous": previous,
        "low_stock_threshold": level.low_stock_threshold,
        "reason": reason,
        "order_id": order_id,
        "version": level.version,
        "changed_at": at,
    }
    owed = [STOCK_CHANGED, LOW_STOCK] if low else [STOCK_CHANGED]
    return [
        contract.event(
            contract.model.model_validate(data),
            source=SOURCE,
            id=_event_id(str(data["stock_id"]), level.version, contract.type),
            time=at,
        )
        for contract in owed
    ]


def _event_id(key: str, version: int, event_type: str) -> str:
    # A JSON array keeps the parts apart whatever characters a SKU contains.
    return str(uuid5(_EVENT_ID_NAMESPACE, json.dumps([key, version, event_type])))
