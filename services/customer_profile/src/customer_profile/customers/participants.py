"""The hook through which other parts of a customer (consents, tags, traits) follow merges.

A participant is called inside the merge's (or the undo's) transaction, after identities and
orders have moved and the survivorship rules have set the survivor's fields, with both customer
rows locked. It may change either customer's fields (e.g. `accepts_marketing` from the consents
in force) and returns the events it owes, which are published after `crm.customer.merged` (or
`crm.customer.unmerged`) and before the `crm.customer.updated` of the customers.

A participant keeps what it needs to undo its part itself, keyed by `merge_id` (the merge log
holds only what this package moved). Participants are wired in `main.py` through
`IdentityPolicy.participants`, e.g. the union of consents:

    class ConsentsFollowMerges:
        async def merged(self, *, session, survivor, merged, merge_id, now):
            return await consents.merge_consents(
                session=session, survivor_id=survivor.customer_id,
                merged_id=merged.customer_id, merge_id=merge_id, now=now)
        async def unmerged(self, *, session, survivor, merged, merge_id, now):
            return await consents.unmerge_consents(
                session=session, survivor_id=survivor.customer_id, merge_id=merge_id, now=now)
"""

from datetime import datetime
from typing import Any, Protocol

from crm_common.envelope import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers.models import Customer


class MergeParticipant(Protocol):
    async def merged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,
        now: datetime,
    ) -> list[CloudEvent[Any]]:
        """Bring `merged`'s part over to `survivor` (a union, for sets)."""
        ...

    async def unmerged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,
        now: datetime,
    ) -> list[CloudEvent[Any]]:
        """Reverse what `merged` did for `merge_id`; `merged` is a customer of its own again."""
        ...
