from collections.abc import Sequence
from typing import Any

from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.kafka import BatchHandler, PermanentEventError
from crm_events.shop import ORDER_UPSERTED, CanonicalOrder
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_sync.orders import batch, intake


def shop_orders_handler(sessions: async_sessionmaker[AsyncSession], *, topic: str) -> BatchHandler:
    """`topic` is where the resulting crm.orders.v1 events go."""

    async def handle(events: Sequence[CloudEvent[dict[str, Any]]]) -> dict[int, Exception]:
        """Store a batch of shop orders from shop.orders.v1 in one transaction, with the result
        of storing them one at a time; returns those that cannot be stored, with why."""
        rejected: dict[int, Exception] = {}
        accepted: list[batch.ShopOrderEvent] = []
        positions: list[int] = []
        for position, event in enumerate(events):
            if event.type != ORDER_UPSERTED.type:
                rejected[position] = PermanentEventError(
                    f"expected {ORDER_UPSERTED.type}, got {event.type}"
                )
                continue
            try:
                order = CanonicalOrder.model_validate(event.data)
            except ValidationError as error:
                rejected[position] = error
                continue
            accepted.append(
                batch.ShopOrderEvent(
                    event_id=event.id, order=order, channel=intake.channel_of(event.source)
                )
            )
            positions.append(position)
        if accepted:
            async with transaction(sessions) as session:
                refused = await batch.apply_shop_order_events(
                    session=session, events=accepted, topic=topic
                )
            for index, why in refused.items():
                rejected[positions[index]] = PermanentEventError(
                    "; ".join(f"{p.field}: {p.message}" for p in why.problems)
                )
        return rejected

    return handle
