"""Keeping the names blind index current wherever names change: an order sets them
(`customers.ingest`), a merge or its undo moves them (the participant below), erasure blanks
them, an import brings them (`index_customers`)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers.models import Customer
from customer_profile.search import names, repository

Names = tuple[str | None, str | None]


def names_of(customer: Customer) -> Names:
    return customer.first_name, customer.last_name


async def index_customers(*, session: AsyncSession, customers: Sequence[Customer]) -> None:
    """Make each customer findable by the prefixes of its current names (and by nothing else)."""
    await repository.replace_terms(
        session=session,
        terms={c.customer_id: names.terms(c.first_name, c.last_name) for c in customers},
    )


async def follow_names(*, session: AsyncSession, customer: Customer, before: Names) -> None:
    """Reindex the customer when its names differ from `before` (what they were when the
    change began)."""
    if names_of(customer) != before:
        await index_customers(session=session, customers=[customer])


async def forget(*, session: AsyncSession, customer_ids: Sequence[str]) -> None:
    """The customers are found by no name any more (erasure)."""
    await repository.delete_terms(session=session, customer_ids=customer_ids)


class NamesFollowMerges:
    """A `MergeParticipant` (see `customers.participants`): a merge may give the survivor the merged
    customer's names, and its undo gives both their own back. A merged customer is never
    searched, so it keeps no terms until an undo makes it a customer of its own again."""

    async def merged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,  # noqa: ARG002  (the protocol's signature)
        now: datetime,  # noqa: ARG002
    ) -> list[CloudEvent[Any]]:
        await index_customers(session=session, customers=[survivor])
        await forget(session=session, customer_ids=[merged.customer_id])
        return []

    async def unmerged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,  # noqa: ARG002
        now: datetime,  # noqa: ARG002
    ) -> list[CloudEvent[Any]]:
        await index_customers(session=session, customers=[survivor, merged])
        return []
