"""Applying a batch of `shop.order.upserted` events in one transaction, each at most once.

The orders go through `bulk.upsert_orders`, which gives every order the outcome it would have had
alone (newer `updated_at` wins, equal or older changes nothing, the same lifecycle events). This
module adds what consuming needs: each event id is claimed in `processed_events` in the same
transaction, a redelivered id changes nothing, and an event whose order is refused is reported
(and left unclaimed) instead of failing the batch.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from crm_events.shop import CanonicalOrder
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.orders import bulk, repository
from order_sync.orders.schemas import Channel
from order_sync.orders.service import SHOP_ORDERS_CONSUMER
from order_sync.orders.validation import Rejected


@dataclass(frozen=True, slots=True)
class ShopOrderEvent:
    """A `shop.order.upserted` event: its id and the order it carries."""

    event_id: str
    order: CanonicalOrder
    channel: Channel
    """How the order reached order-sync: published by a shop, or accepted by the API."""


async def apply_shop_order_events(
    *, session: AsyncSession, events: Sequence[ShopOrderEvent], topic: str
) -> dict[int, Rejected]:
    """Apply each event not applied before, in order, staging the events owed on `topic`.

    Returns, by position in `events`, those whose order was refused (an unregistered store, or
    what the database cannot hold); they are not recorded as processed.
    """
    # A redelivered id may come twice in one batch: its first occurrence is the one applied.
    first: dict[str, int] = {}
    for position, event in enumerate(events):
        first.setdefault(event.event_id, position)
    claimed = await repository.claim_events(
        session=session, consumer=SHOP_ORDERS_CONSUMER, event_ids=list(first)
    )
    todo = [position for event_id, position in first.items() if event_id in claimed]
    if not todo:
        return {}
    outcomes = await bulk.upsert_orders(
        session=session,
        orders=[events[position].order for position in todo],
        topic=topic,
        channels=[events[position].channel for position in todo],
    )
    refused = {
        events[position].event_id: outcome
        for position, outcome in zip(todo, outcomes, strict=True)
        if isinstance(outcome, Rejected)
    }
    await repository.release_events(
        session=session, consumer=SHOP_ORDERS_CONSUMER, event_ids=list(refused)
    )
    # Every copy of a refused event is refused, as each would be when applied alone.
    return {
        position: refused[event.event_id]
        for position, event in enumerate(events)
        if event.event_id in refused
    }
