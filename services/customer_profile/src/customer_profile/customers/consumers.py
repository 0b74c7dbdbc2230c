from typing import Any

from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.kafka import EventHandler, PermanentEventError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_profile.customers import service
from customer_profile.customers.exceptions import NoUsableIdentity
from customer_profile.customers.policy import DEFAULT_POLICY, IdentityPolicy


def order_events_handler(
    sessions: async_sessionmaker[AsyncSession],
    *,
    customers_topic: str,
    policy: IdentityPolicy = DEFAULT_POLICY,
) -> EventHandler:
    async def handle(event: CloudEvent[dict[str, Any]]) -> None:
        """Attribute each crm.orders.v1 order to its customer."""
        try:
            async with transaction(sessions) as session:
                await service.apply_order_event(
                    session=session, event=event, customers_topic=customers_topic, policy=policy
                )
        except NoUsableIdentity as error:
            raise PermanentEventError(str(error)) from error

    return handle
