"""The timeline follows merges: a merge moves the merged customer's entries to the survivor, and
its undo moves them back (with the entries of the orders that go back)."""

from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers.models import Customer
from customer_profile.timeline import repository, service
from customer_profile.timeline.service import TimelineBatch


class TimelineFollowsMerges:
    """A `MergeParticipant` (see `customers.participants`); within a batch of order events, bound
    to the batch's timeline (`batch`), whose held entries it writes before moving any."""

    def __init__(self, batch: TimelineBatch | None = None) -> None:
        self.batch = batch

    async def merged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,
        now: datetime,  # noqa: ARG002  (the protocol's signature)
    ) -> list[CloudEvent[Any]]:
        if self.batch is not None:
            await service.write_held_entries(session=session, batch=self.batch)
        await repository.repoint(
            session=session,
            from_customer=merged.customer_id,
            to_customer=survivor.customer_id,
            merge_id=merge_id,
        )
        return []

    async def unmerged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,
        now: datetime,  # noqa: ARG002
    ) -> list[CloudEvent[Any]]:
        await repository.move_back(
            session=session,
            merge_id=merge_id,
            survivor_id=survivor.customer_id,
            merged_id=merged.customer_id,
        )
        return []
