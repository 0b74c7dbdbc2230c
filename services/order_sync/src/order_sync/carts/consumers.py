from collections.abc import Sequence
from typing import Any

from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.kafka import BatchHandler, PermanentEventError
from crm_events.shop_activity import (
    SHOP_CART_UPDATED,
    SHOP_CHECKOUT_STARTED,
    SHOP_CUSTOMER_IDENTIFIED,
    SHOP_CUSTOMER_UPSERTED,
    SHOP_PRODUCT_VIEWED,
    ShopCart,
    ShopCheckout,
)
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_sync.carts import service

_OWNED: dict[str, type[ShopCart] | type[ShopCheckout]] = {
    SHOP_CART_UPDATED.type: ShopCart,
    SHOP_CHECKOUT_STARTED.type: ShopCheckout,
}
# Other services' business on the same topic; any other type is counted as `other`, so that
# a shop inventing types cannot grow the metric without bound.
_KNOWN_OTHERS = frozenset(
    {SHOP_PRODUCT_VIEWED.type, SHOP_CUSTOMER_IDENTIFIED.type, SHOP_CUSTOMER_UPSERTED.type}
)

IGNORED = Counter(
    "order_sync_activity_ignored_total",
    "shop.activity.v1 events order-sync does not own, passed over",
    ["type"],
)


def shop_activity_handler(
    sessions: async_sessionmaker[AsyncSession], *, topic: str
) -> BatchHandler:
    """`topic` is where the resulting crm.carts.v1 events go."""

    async def handle(events: Sequence[CloudEvent[dict[str, Any]]]) -> dict[int, Exception]:
        """Store the carts and checkouts of a batch from shop.activity.v1 in one transaction;
        pass over the other types; return those that break their contract or name an
        unregistered store, with why."""
        rejected: dict[int, Exception] = {}
        accepted: list[service.ActivityEvent] = []
        positions: list[int] = []
        for position, event in enumerate(events):
            model = _OWNED.get(event.type)
            if model is None:
                IGNORED.labels(event.type if event.type in _KNOWN_OTHERS else "other").inc()
                continue
            try:
                item = model.model_validate(event.data)
            except ValidationError as error:
                rejected[position] = error
                continue
            accepted.append(service.ActivityEvent(event_id=event.id, item=item))
            positions.append(position)
        if accepted:
            async with transaction(sessions) as session:
                refused = await service.apply_activity_events(
                    session=session, items=accepted, topic=topic
                )
            for index, why in refused.items():
                rejected[positions[index]] = PermanentEventError(str(why))
        return rejected

    return handle
