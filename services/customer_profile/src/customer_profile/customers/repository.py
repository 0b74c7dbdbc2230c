from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from crm_events.customer import IdentityKind
from sqlalchemy import LargeBinary, func, select, tuple_, type_coerce
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
from customer_profile.pii import EncryptedText, decrypt_text

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


async def lock_ids(*, session: AsyncSession, customer_ids: Sequence[str]) -> None:
    """Row-lock `customer_ids` in id order (as `lock_customers`), loading nothing."""
    if customer_ids:
        await session.execute(
            select(_customers.c.customer_id)
            .where(_customers.c.customer_id.in_(list(customer_ids)))
            .order_by(_customers.c.customer_id)
            .with_for_update()
        )


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
    # Matched back by digest: the rows' values stay encrypted, as the owners are all it needs.
    wanted = dict(zip(identity_columns(keys), keys, strict=True))
    columns = (_identities.c.kind, _identities.c.store_id, _identities.c.value)
    rows = await session.execute(
        select(*columns, _identities.c.customer_id).where(tuple_(*columns).in_(list(wanted)))
    )
    return {wanted[(kind, store_id, value)]: owner for kind, store_id, value, owner in rows}


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


async def holders(
    *, session: AsyncSession, keys: Sequence[IdentityKey], order_ids: Sequence[str]
) -> set[str]:
    """The customers that `keys` or `order_ids` point at."""
    if not keys and not order_ids:
        return set()
    key = tuple_(_identities.c.kind, _identities.c.store_id, _identities.c.value)
    rows = await session.execute(
        select(_identities.c.customer_id)
        .where(key.in_(identity_columns(keys)))
        .union(select(_orders.c.customer_id).where(_orders.c.order_id.in_(list(order_ids))))
    )
    return set(rows.scalars())


def add_identity(*, session: AsyncSession, identity: CustomerIdentity) -> None:
    session.add(identity)


async def get_order(*, session: AsyncSession, order_id: str) -> CustomerOrder | None:
    return await session.get(CustomerOrder, order_id)


async def stored_order_ids(*, session: AsyncSession, order_ids: Sequence[str]) -> set[str]:
    """Those of `order_ids` that are stored."""
    if not order_ids:
        return set()
    rows = await session.execute(
        select(_orders.c.order_id).where(_orders.c.order_id.in_(list(order_ids)))
    )
    return set(rows.scalars())


def add_order(*, session: AsyncSession, order: CustomerOrder) -> None:
    session.add(order)


async def orders_of(*, session: AsyncSession, customer_id: str) -> list[CustomerOrder]:
    # The session flushes pending orders first (autoflush), so a just-added order is included.
    rows = await session.execute(select(CustomerOrder).where(_orders.c.customer_id == customer_id))
    return list(rows.scalars())


class OrderFacts:
    """An order as profiles and scores read it: its contact data decrypted only when read (a
    profile reads the newest order's, of a customer who may have hundreds)."""

    __slots__ = (
        "_contact",
        "accepts_marketing",
        "cancelled",
        "currency",
        "net_paid",
        "order_id",
        "placed_at",
        "store_id",
    )

    def __init__(
        self,
        order_id: str,
        store_id: str,
        placed_at: datetime,
        currency: str,
        net_paid: Decimal,
        cancelled: bool,
        accepts_marketing: bool,
        *contact: bytes | str | None,
    ) -> None:
        self.order_id = order_id
        self.store_id = store_id
        self.placed_at = placed_at
        self.currency = currency
        self.net_paid = net_paid
        self.cancelled = cancelled
        self.accepts_marketing = accepts_marketing
        self._contact = list(contact)
        """Email, phone, first and last name: ciphertexts until read."""

    @classmethod
    def of(cls, row: CustomerOrder) -> "OrderFacts":
        """The facts of an order row as the session holds it."""
        return cls(
            row.order_id,
            row.store_id,
            row.placed_at,
            row.currency,
            row.net_paid,
            row.cancelled,
            row.accepts_marketing,
            row.email,
            row.phone,
            row.first_name,
            row.last_name,
        )

    def settled(self, before: "OrderFacts | None") -> "OrderFacts":
        """These facts as the database holds them once flushed over `before` (the row as
        stored): a value equal to the stored one (`0.00` for `0`) is not written."""
        if before is None:
            return self
        return OrderFacts(
            self.order_id,
            self.store_id,
            before.placed_at if before.placed_at == self.placed_at else self.placed_at,
            self.currency,
            before.net_paid if before.net_paid == self.net_paid else self.net_paid,
            self.cancelled,
            self.accepts_marketing,
            *self._contact,
        )

    def _open(self, index: int) -> str | None:
        value = self._contact[index]
        if value is None or isinstance(value, str):
            return value
        opened = decrypt_text(_SEALED[index], bytes(value))
        self._contact[index] = opened
        return opened

    @property
    def email(self) -> str | None:
        return self._open(0)

    @property
    def phone(self) -> str | None:
        return self._open(1)

    @property
    def first_name(self) -> str | None:
        return self._open(2)

    @property
    def last_name(self) -> str | None:
        return self._open(3)


def _purpose(name: str) -> str:
    column_type = _orders.c[name].type
    assert isinstance(column_type, EncryptedText)
    return column_type.purpose


_SEALED_COLUMNS = ("email", "phone", "first_name", "last_name")
_SEALED = tuple(_purpose(name) for name in _SEALED_COLUMNS)
_FACTS = select(
    *(
        _orders.c[name]
        for name in (
            "order_id",
            "store_id",
            "placed_at",
            "currency",
            "net_paid",
            "cancelled",
            "accepts_marketing",
        )
    ),
    # The ciphertexts as they are: OrderFacts opens the few a profile reads.
    *(type_coerce(_orders.c[name], LargeBinary) for name in _SEALED_COLUMNS),
)


async def order_facts_of(*, session: AsyncSession, customer_id: str) -> list[OrderFacts]:
    """The customer's orders (pending ones included, as `orders_of`), for profiles and scores."""
    rows = await session.execute(_FACTS.where(_orders.c.customer_id == customer_id))
    return [OrderFacts(*row) for row in rows]


async def order_facts_of_many(
    *, session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, dict[str, OrderFacts]]:
    """The orders of each of `customer_ids`, by order id."""
    found: dict[str, dict[str, OrderFacts]] = {customer_id: {} for customer_id in customer_ids}
    if customer_ids:
        rows = await session.execute(
            _FACTS.add_columns(_orders.c.customer_id).where(
                _orders.c.customer_id.in_(list(customer_ids))
            )
        )
        for *facts, customer_id in rows:
            order = OrderFacts(*facts)
            found[customer_id][order.order_id] = order
    return found


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


async def partners_of(
    *, session: AsyncSession, identity_digests: Sequence[str]
) -> dict[str, set[str]]:
    """Every partner each of `identity_digests` was seen with (an empty set: none)."""
    found: dict[str, set[str]] = {identity: set() for identity in identity_digests}
    if identity_digests:
        rows = await session.execute(
            select(_sightings.c.identity_digest, _sightings.c.partner_digest).where(
                _sightings.c.identity_digest.in_(list(identity_digests))
            )
        )
        for identity, partner in rows:
            found[identity].add(partner)
    return found


async def add_sightings(
    *, session: AsyncSession, pairs: Sequence[tuple[str, str]], at: datetime
) -> None:
    """Record each (identity digest, partner digest) pair not seen before."""
    await add_sightings_seen(session=session, seen=dict.fromkeys(pairs, at))


async def add_sightings_seen(
    *, session: AsyncSession, seen: Mapping[tuple[str, str], datetime]
) -> None:
    """Record each (identity digest, partner digest) pair not seen before, first seen when
    `seen` says."""
    if not seen:
        return
    table = IdentitySighting.__table__  # type: ignore[attr-defined]
    await session.execute(
        insert(table)
        .values(
            [
                {"identity_digest": identity, "partner_digest": partner, "first_seen_at": at}
                for (identity, partner), at in seen.items()
            ]
        )
        .on_conflict_do_nothing()
    )
