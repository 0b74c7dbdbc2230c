"""RFM follows merges: both customers are re-scored once the orders have moved (either way)."""

from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers.models import Customer
from customer_profile.scoring import service


class ScoresFollowMerges:
    """A `MergeParticipant` (see `merges.participants`)."""

    async def merged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,  # noqa: ARG002  (the protocol's signature)
        now: datetime,
    ) -> list[CloudEvent[Any]]:
        await service.refresh(
            session=session, customer_ids=[survivor.customer_id, merged.customer_id], now=now
        )
        return []

    async def unmerged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,  # noqa: ARG002
        now: datetime,
    ) -> list[CloudEvent[Any]]:
        await service.refresh(
            session=session, customer_ids=[survivor.customer_id, merged.customer_id], now=now
        )
        return []
