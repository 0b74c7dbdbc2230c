from typing import Any

from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.kafka import EventHandler, PermanentEventError
from crm_events.shop import ORDER_UPSERTED, CanonicalOrder
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_sync.orders import service
from order_sync.orders.exceptions import UnknownStore


def shop_orders_handler(sessions: async_sessionmaker[AsyncSession], *, topic: str) -> EventHandler:
    """`topic` is where the resulting crm.orders.v1 events go."""

    async def handle(event: CloudEvent[dict[str, Any]]) -> None:
        """Store a shop order from shop.orders.v1 exactly as the API does."""
        if event.type != ORDER_UPSERTED.type:
            raise PermanentEventError(f"expected {ORDER_UPSERTED.type}, got {event.type}")
        order = CanonicalOrder.model_validate(event.data)  # invalid: dead-lettered at once
        try:
            async with transaction(sessions) as session:
                await service.apply_shop_order_event(
                    session=session, event_id=event.id, order=order, topic=topic
                )
        except UnknownStore as error:
            raise PermanentEventError(error.detail) from error

    return handle
