"""Consents follow merges (see customers/participants.py): the survivor gets the union."""

from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.consents import service
from customer_profile.customers.models import Customer


class ConsentsFollowMerges:
    """On a merge, each consent of the merged customer is applied to the survivor under the
    precedence rules (`service.merge_consents`); an undo takes back what the merge brought
    (`service.unmerge_consents`). Either way each customer's `accepts_marketing` is its email
    marketing consent in force afterwards."""

    async def merged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,
        now: datetime,
    ) -> list[CloudEvent[Any]]:
        outgoing = await service.merge_consents(
            session=session,
            survivor_id=survivor.customer_id,
            merged_id=merged.customer_id,
            merge_id=merge_id,
            now=now,
        )
        await _sync_marketing(session, survivor)
        return outgoing

    async def unmerged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,
        now: datetime,
    ) -> list[CloudEvent[Any]]:
        outgoing = await service.unmerge_consents(
            session=session, survivor_id=survivor.customer_id, merge_id=merge_id, now=now
        )
        await _sync_marketing(session, survivor)
        await _sync_marketing(session, merged)
        return outgoing


async def _sync_marketing(session: AsyncSession, customer: Customer) -> None:
    customer.accepts_marketing = await service.accepts_email_marketing(
        session=session, customer_id=customer.customer_id
    )
