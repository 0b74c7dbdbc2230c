"""Erased customers take part in no merge and no undo (see customers/participants.py)."""

from typing import Any

from crm_common.envelope import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers.models import Customer
from customer_profile.privacy import tombstone
from customer_profile.privacy.exceptions import CustomerGone


class ErasureGuard:
    """Refuses (410, rolling the whole merge or undo back) to merge an erased customer or to
    undo a merge of one: the tombstone has no data left to merge, and an undo would need the
    merge log's copy of personal data that erasure removed."""

    async def merged(
        self, *, session: AsyncSession, survivor: Customer, merged: Customer, **_: Any
    ) -> list[CloudEvent[Any]]:
        await _refuse_erased(session, survivor, merged)
        return []

    async def unmerged(
        self, *, session: AsyncSession, survivor: Customer, merged: Customer, **_: Any
    ) -> list[CloudEvent[Any]]:
        await _refuse_erased(session, survivor, merged)
        return []


async def _refuse_erased(session: AsyncSession, *customers: Customer) -> None:
    for customer in customers:
        erased_at = await tombstone.erased_at(session=session, customer_id=customer.customer_id)
        if erased_at is not None:
            raise CustomerGone(customer.customer_id, erased_at)
