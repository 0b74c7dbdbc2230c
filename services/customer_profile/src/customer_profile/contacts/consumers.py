from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.contacts import accounts
from customer_profile.customers.policy import DEFAULT_POLICY, IdentityPolicy
from customer_profile.timeline.service import Applied

AccountsStep = Callable[
    [AsyncSession, Sequence[CloudEvent[dict[str, Any]]], datetime], Awaitable[Applied]
]


def shop_accounts_step(
    *, customers_topic: str, policy: IdentityPolicy = DEFAULT_POLICY
) -> AccountsStep:
    """The customer side of shop.activity.v1: its `shop.customer.upserted` events, applied in
    the transaction of the activity consumer's batch, before the timeline records the batch (so
    activity of the same batch finds the customers they create)."""

    async def apply(
        session: AsyncSession, events: Sequence[CloudEvent[dict[str, Any]]], _: datetime
    ) -> Applied:
        rejected = await accounts.apply_accounts(
            session=session, events=events, customers_topic=customers_topic, policy=policy
        )
        return Applied(rejected=rejected)

    return apply
