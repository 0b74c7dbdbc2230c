"""RFM follows merges: both customers are re-scored once the orders have moved (either way)."""

from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers.models import Customer
from customer_profile.scoring import service
from customer_profile.scoring.service import ScoringBatch


class ScoresFollowMerges:
    """A `MergeParticipant` (see `customers.participants`); within a batch of order events, bound
    to the batch's scores (`batch`), which it refreshes in place of the stored rows."""

    def __init__(self, batch: ScoringBatch | None = None) -> None:
        self.batch = batch

    async def _refresh(self, session: AsyncSession, customer_ids: list[str], now: datetime) -> None:
        if self.batch is None:
            await service.refresh(session=session, customer_ids=customer_ids, now=now)
        else:
            await service.refresh_in_batch(
                session=session, batch=self.batch, customer_ids=customer_ids, now=now
            )

    async def merged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,  # noqa: ARG002  (the protocol's signature)
        now: datetime,
    ) -> list[CloudEvent[Any]]:
        await self._refresh(session, [survivor.customer_id, merged.customer_id], now)
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
        await self._refresh(session, [survivor.customer_id, merged.customer_id], now)
        return []
