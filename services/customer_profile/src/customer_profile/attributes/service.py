"""Tags and traits as the profile and the customer events show them, and their erasure. The
PATCH is in `flows.py`, merges in `merging.py`."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.attributes import repository
from customer_profile.customers.events import Attributes


async def attributes_of(*, session: AsyncSession, customer_id: str) -> Attributes:
    """The customer's tags and traits."""
    return (await attributes_of_many(session=session, customer_ids=[customer_id]))[customer_id]


async def attributes_of_many(
    *, session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, Attributes]:
    """Tags and traits of each of `customer_ids` (empty for a customer without any)."""
    ids = list(dict.fromkeys(customer_ids))
    tags = await repository.tag_names_of_many(session=session, customer_ids=ids)
    stored = await repository.attributes_of_many(session=session, customer_ids=ids)
    return {
        customer_id: Attributes(
            tags=tags[customer_id],
            traits=dict(stored[customer_id].traits) if customer_id in stored else {},
        )
        for customer_id in ids
    }


async def erase(*, session: AsyncSession, customer_ids: Sequence[str]) -> None:
    """Delete the tags and traits of `customer_ids`, and what merges kept of them."""
    await repository.delete_of(session=session, customer_ids=customer_ids)
