from collections.abc import Sequence
from datetime import datetime

from crm_events.customer import IdentityKind
from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from customer_profile.customers.identities import IdentityKey, digest
from customer_profile.customers.models import (
    Customer,
    CustomerIdentity,
    CustomerOrder,
    IdentitySighting,
)

_customers = SQLModel.metadata.tables["customers"]
_identities = SQLModel.metadata.tables["customer_identities"]
_orders = SQLModel.metadata.tables["customer_orders"]
_sightings = SQLModel.metadata.tables["identity_sightings"]


def _store_column(key: IdentityKey) -> str:
    return key.store_id or ""


def key_of(identity: CustomerIdentity) -> IdentityKey:
    return IdentityKey(
        IdentityKind(identity.kind), identity.normalised_value, identity.store_id or None
    )


def identity_row(
    key: IdentityKey, *, customer_id: str, linked_at: datetime, order_id: str | None
) -> CustomerIdentity:
    """The row linking `key` to the customer: found by its digest, the value kept encrypted."""
    return CustomerIdentity(
        kind=key.kind.value,
        store_id=_store_column(key),
        value=digest(key),
        normalised_value=key.value,
        customer_id=customer_id,
        linked_at=linked_at,
        order_id=order_id,
    )


def identity_columns(keys: Sequence[IdentityKey]) -> list[tuple[str, str, str]]:
    """The (kind, store_id, value) primary keys of `keys`' rows: the value is the digest."""
    return [(key.kind.value, _store_column(key), digest(key)) for key in keys]


async def get_customer(*, session: AsyncSession, customer_id: str) -> Customer | None:
    return await session.get(Customer, customer_id)


async def lock_customer(*, session: AsyncSession, customer_id: str) -> Customer | None:
    """The customer, row-locked until the transaction ends so concurrent changes queue up."""
    return await session.get(Customer, customer_id, with_for_update=True, populate_existing=True)


async def lock_customers(
    *, session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, Customer]:
    """The customers found among `customer_ids`, row-locked in id order (so that two
    transactions locking overlapping sets queue up rather than deadlock)."""
    if not customer_ids:
        return {}
    rows = await session.execute(
        select(Customer)
        .where(_customers.c.customer_id.in_(customer_ids))
        .order_by(_customers.c.customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {customer.customer_id: customer for customer in rows.scalars()}


async def add_customer(*, session: AsyncSession, customer: Customer) -> None:
    session.add(customer)
    # Identities and orders reference the customer; without relationships the unit of work
    # does not order the inserts, so the row goes in first.
    await session.flush()


async def identity_owners(
    *, session: AsyncSession, keys: Sequence[IdentityKey]
) -> dict[IdentityKey, str]:
    """The customer each of `keys` points at, for the keys already known."""
    if not keys:
        return {}
    wanted = identity_columns(keys)
    rows = await session.execute(
        select(CustomerIdentity).where(
            tuple_(_identities.c.kind, _identities.c.store_id, _identities.c.value).in_(wanted)
        )
    )
    return {key_of(identity): identity.customer_id for identity in rows.scalars()}


async def identities_of(*, session: AsyncSession, customer_id: str) -> list[CustomerIdentity]:
    rows = await session.execute(
        select(CustomerIdentity).where(_identities.c.customer_id == customer_id)
    )
    return list(rows.scalars())


async def identities_of_many(
    *, session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, list[CustomerIdentity]]:
    found: dict[str, list[CustomerIdentity]] = {customer_id: [] for customer_id in customer_ids}
    if customer_ids:
        rows = await session.execute(
            select(CustomerIdentity).where(_identities.c.customer_id.in_(customer_ids))
        )
        for identity in rows.scalars():
            found[identity.customer_id].append(identity)
    return found


def add_identity(*, session: AsyncSession, identity: CustomerIdentity) -> None:
    session.add(identity)


async def get_order(*, session: AsyncSession, order_id: str) -> CustomerOrder | None:
    return await session.get(CustomerOrder, order_id)


def add_order(*, session: AsyncSession, order: CustomerOrder) -> None:
    session.add(order)


async def orders_of(*, session: AsyncSession, customer_id: str) -> list[CustomerOrder]:
    # The session flushes pending orders first (autoflush), so a just-added order is included.
    rows = await session.execute(select(CustomerOrder).where(_orders.c.customer_id == customer_id))
    return list(rows.scalars())


async def find_by_identity(*, session: AsyncSession, key: IdentityKey) -> list[Customer]:
    rows = await session.execute(
        select(Customer)
        .join(CustomerIdentity, _identities.c.customer_id == _customers.c.customer_id)
        .where(
            _identities.c.kind == key.kind.value,
            _identities.c.store_id == _store_column(key),
            _identities.c.value == digest(key),
        )
    )
    return list(rows.scalars())


async def count_partners(
    *, session: AsyncSession, identity_digest: str, excluding: str | None, cap: int
) -> int:
    """How many different partners the identity was seen with, other than `excluding`; counting
    stops at `cap`, which is all a limit needs."""
    query = select(_sightings.c.partner_digest).where(
        _sightings.c.identity_digest == identity_digest
    )
    if excluding is not None:
        query = query.where(_sightings.c.partner_digest != excluding)
    counted = await session.scalar(select(func.count()).select_from(query.limit(cap).subquery()))
    return counted or 0


async def add_sightings(
    *, session: AsyncSession, pairs: Sequence[tuple[str, str]], at: datetime
) -> None:
    """Record each (identity digest, partner digest) pair not seen before."""
    if not pairs:
        return
    table = IdentitySighting.__table__  # type: ignore[attr-defined]
    await session.execute(
        insert(table)
        .values(
            [
                {"identity_digest": identity, "partner_digest": partner, "first_seen_at": at}
                for identity, partner in pairs
            ]
        )
        .on_conflict_do_nothing()
    )
