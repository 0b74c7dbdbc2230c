from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from customer_profile.consents.models import ConsentLogEntry, CustomerConsent

_consents = SQLModel.metadata.tables["customer_consents"]
_log = SQLModel.metadata.tables["consent_log"]


async def get_consent(
    *, session: AsyncSession, customer_id: str, channel: str, purpose: str
) -> CustomerConsent | None:
    return await session.get(CustomerConsent, (customer_id, channel, purpose))


async def consenting(*, session: AsyncSession, customer_ids: Sequence[str]) -> set[str]:
    """Those of `customer_ids` with any consent row."""
    if not customer_ids:
        return set()
    rows = await session.execute(
        select(_consents.c.customer_id)
        .distinct()
        .where(_consents.c.customer_id.in_(list(customer_ids)))
    )
    return set(rows.scalars())


async def consents_of(*, session: AsyncSession, customer_id: str) -> list[CustomerConsent]:
    rows = await session.execute(
        select(CustomerConsent)
        .where(_consents.c.customer_id == customer_id)
        .order_by(_consents.c.channel, _consents.c.purpose)
    )
    return list(rows.scalars())


async def log_of(
    *,
    session: AsyncSession,
    customer_id: str,
    channel: str | None = None,
    purpose: str | None = None,
) -> list[ConsentLogEntry]:
    """The customer's consent log, oldest entry first (optionally for one channel and purpose)."""
    query = select(ConsentLogEntry).where(_log.c.customer_id == customer_id)
    if channel is not None:
        query = query.where(_log.c.channel == channel)
    if purpose is not None:
        query = query.where(_log.c.purpose == purpose)
    rows = await session.execute(query.order_by(_log.c.entry_id))
    return list(rows.scalars())


def save_consent(*, session: AsyncSession, consent: CustomerConsent) -> None:
    session.add(consent)


async def delete_consent(*, session: AsyncSession, consent: CustomerConsent) -> None:
    await session.delete(consent)


def add_log_entry(*, session: AsyncSession, entry: ConsentLogEntry) -> None:
    session.add(entry)
