"""Shop account addresses follow merges: a merge moves the merged customer's accounts to the
survivor, and its undo moves them back. (Order addresses need nothing: they move with their
orders.)"""

from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.addresses import repository
from customer_profile.customers.models import Customer


class AddressesFollowMerges:
    """A `MergeParticipant` (see `customers.participants`)."""

    async def merged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,
        now: datetime,  # noqa: ARG002  (the protocol's signature)
    ) -> list[CloudEvent[Any]]:
        await repository.repoint_accounts(
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
        await repository.move_accounts_back(
            session=session,
            merge_id=merge_id,
            survivor_id=survivor.customer_id,
            merged_id=merged.customer_id,
        )
        return []
