from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from campaign.contacts.models import Contact


async def get(*, session: AsyncSession, customer_id: str) -> Contact | None:
    # populate_existing: the statements below change rows behind the session's identity map.
    return await session.get(Contact, customer_id, populate_existing=True)


async def upsert_newer(*, session: AsyncSession, contact: Contact) -> None:
    """Insert, or overwrite only when `contact` carries a newer version than the stored one.

    An erased contact is a tombstone: no later version brings its data back.
    """
    values = contact.model_dump()
    changes = {k: v for k, v in values.items() if k not in {"customer_id", "merged_into", "erased"}}
    statement = insert(Contact).values(values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[col(Contact.customer_id)],
            set_=changes,
            where=(col(Contact.version) < statement.excluded.version) & ~col(Contact.erased),
        )
    )


async def mark_merged(
    *, session: AsyncSession, merged_id: str, survivor_id: str, at: datetime
) -> None:
    """Point `merged_id` at `survivor_id`; the contacts merged into `merged_id` keep pointing at
    it, and so reach `survivor_id` through it."""
    await session.execute(
        insert(Contact)
        .values(customer_id=merged_id, merged_into=survivor_id, updated_at=at)
        .on_conflict_do_update(
            index_elements=[col(Contact.customer_id)],
            set_={"merged_into": survivor_id, "updated_at": at},
        )
    )


async def mark_unmerged(*, session: AsyncSession, merged_id: str, at: datetime) -> None:
    """`merged_id` is a contact of its own again, with the contacts merged into it."""
    await session.execute(
        update(Contact)
        .where(col(Contact.customer_id) == merged_id, col(Contact.merged_into).is_not(None))
        .values(merged_into=None, updated_at=at)
    )


async def erase(*, session: AsyncSession, customer_id: str, at: datetime) -> None:
    """Blank the personal data of `customer_id` and of every contact merged into it, directly
    or through other merged contacts."""
    blank = {
        "email": None,
        "phone": None,
        "first_name": None,
        "last_name": None,
        "accepts_marketing": False,
        "erased": True,
        "updated_at": at,
    }
    await session.execute(
        insert(Contact)
        .values(customer_id=customer_id, **blank)
        .on_conflict_do_update(index_elements=[col(Contact.customer_id)], set_=blank)
    )
    merged = (
        select(col(Contact.customer_id))
        .where(col(Contact.merged_into) == customer_id)
        .cte("merged", recursive=True)
    )
    # UNION, not UNION ALL: it stops at a contact already found, even on a cycle of merges.
    merged = merged.union(
        select(col(Contact.customer_id)).join(
            merged, col(Contact.merged_into) == merged.c.customer_id
        )
    )
    await session.execute(
        update(Contact)
        .where(col(Contact.customer_id).in_(select(merged.c.customer_id)))
        .values(blank)
    )
