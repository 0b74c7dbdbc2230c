from datetime import datetime

from sqlalchemy import update
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
    """Point `merged_id`, and every contact that pointed at it, to `survivor_id`."""
    await session.execute(
        insert(Contact)
        .values(customer_id=merged_id, merged_into=survivor_id, updated_at=at)
        .on_conflict_do_update(
            index_elements=[col(Contact.customer_id)],
            set_={"merged_into": survivor_id, "updated_at": at},
        )
    )
    await session.execute(
        update(Contact).where(col(Contact.merged_into) == merged_id).values(merged_into=survivor_id)
    )


async def erase(*, session: AsyncSession, customer_id: str, at: datetime) -> None:
    """Blank the personal data of `customer_id` and of the contacts merged into it."""
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
    await session.execute(
        update(Contact).where(col(Contact.merged_into) == customer_id).values(blank)
    )
