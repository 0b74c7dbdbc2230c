from collections.abc import Sequence

from crm_events.customer import IdentityKind
from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from customer_profile.consents.models import CustomerConsent
from customer_profile.customers.models import Customer

_customers = SQLModel.metadata.tables["customers"]
_identities = SQLModel.metadata.tables["customer_identities"]
_orders = SQLModel.metadata.tables["customer_orders"]
_consents = SQLModel.metadata.tables["customer_consents"]
_erasures = SQLModel.metadata.tables["customer_erasures"]


async def export_page(
    *, session: AsyncSession, after: str | None, store_id: str | None, limit: int
) -> list[Customer]:
    """The next `limit` customers by id after `after` that are customers of their own (neither
    merged into another nor erased); with `store_id`, those with an order or a shop reference
    there. A keyset page: the primary key index, however far into the table."""
    query = select(Customer).where(
        _customers.c.merged_into.is_(None),
        ~exists().where(_erasures.c.customer_id == _customers.c.customer_id),
    )
    if store_id is not None:
        query = query.where(
            or_(
                exists().where(
                    _orders.c.customer_id == _customers.c.customer_id,
                    _orders.c.store_id == store_id,
                ),
                exists().where(
                    _identities.c.customer_id == _customers.c.customer_id,
                    _identities.c.kind == IdentityKind.STORE_REF.value,
                    _identities.c.store_id == store_id,
                ),
            )
        )
    if after is not None:
        query = query.where(_customers.c.customer_id > after)
    rows = await session.execute(query.order_by(_customers.c.customer_id).limit(limit))
    return list(rows.scalars())


async def consents_of_many(
    *, session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, list[CustomerConsent]]:
    found: dict[str, list[CustomerConsent]] = {customer_id: [] for customer_id in customer_ids}
    if customer_ids:
        rows = await session.execute(
            select(CustomerConsent)
            .where(_consents.c.customer_id.in_(customer_ids))
            .order_by(_consents.c.customer_id, _consents.c.channel, _consents.c.purpose)
        )
        for consent in rows.scalars():
            found[consent.customer_id].append(consent)
    return found
