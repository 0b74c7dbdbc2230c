from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from customer_profile.contacts.models import ShopAccount  # noqa: F401  (registers the table)

_accounts = SQLModel.metadata.tables["shop_accounts"]


async def applied_revision(*, session: AsyncSession, account_digest: str) -> datetime | None:
    """The `updated_at` of the account's revision applied last, row-locked."""
    found: datetime | None = await session.scalar(
        select(_accounts.c.updated_at)
        .where(_accounts.c.account_digest == account_digest)
        .with_for_update()
    )
    return found


async def save_revision(
    *, session: AsyncSession, account_digest: str, updated_at: datetime, now: datetime
) -> None:
    statement = insert(_accounts).values(
        account_digest=account_digest, updated_at=updated_at, applied_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[_accounts.c.account_digest],
            set_={"updated_at": statement.excluded.updated_at, "applied_at": now},
        )
    )
