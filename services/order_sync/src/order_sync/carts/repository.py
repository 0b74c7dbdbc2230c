from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, any_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from order_sync.carts.models import Cart, Checkout, CheckoutState
from order_sync.carts.rules import CheckoutRefs, OrderRefs, normalized_email
from order_sync.orders.models import Order

_carts = Cart.__table__  # type: ignore[attr-defined, unused-ignore]
_checkouts = Checkout.__table__  # type: ignore[attr-defined, unused-ignore]
_orders = Order.__table__  # type: ignore[attr-defined, unused-ignore]


async def lock_cart(*, session: AsyncSession, cart_id: str) -> Cart | None:
    """The cart, row-locked until the transaction ends (detached from the session)."""
    row = (
        await session.execute(select(_carts).where(_carts.c.cart_id == cart_id).with_for_update())
    ).first()
    return Cart(**row._mapping) if row is not None else None


async def insert_cart(*, session: AsyncSession, cart: Cart) -> bool:
    """Insert a new cart; False when it exists already (also when a concurrent insert won)."""
    inserted = await session.execute(
        insert(_carts)
        .values(cart.model_dump())
        .on_conflict_do_nothing()
        .returning(_carts.c.cart_id)
    )
    return inserted.first() is not None


async def replace_cart(*, session: AsyncSession, cart: Cart) -> None:
    values = cart.model_dump(exclude={"cart_id", "created_at"})
    await session.execute(update(_carts).where(_carts.c.cart_id == cart.cart_id).values(values))


async def get_checkout(*, session: AsyncSession, checkout_id: str) -> Checkout | None:
    return await session.get(Checkout, checkout_id)


async def lock_checkout(*, session: AsyncSession, checkout_id: str) -> Checkout | None:
    """The checkout, row-locked until the transaction ends (detached from the session)."""
    row = (
        await session.execute(
            select(_checkouts).where(_checkouts.c.checkout_id == checkout_id).with_for_update()
        )
    ).first()
    return Checkout(**row._mapping) if row is not None else None


async def insert_checkout(*, session: AsyncSession, checkout: Checkout) -> bool:
    """Insert a new checkout; False when it exists already (a concurrent insert won)."""
    inserted = await session.execute(
        insert(_checkouts)
        .values(checkout.model_dump())
        .on_conflict_do_nothing()
        .returning(_checkouts.c.checkout_id)
    )
    return inserted.first() is not None


async def replace_checkout(*, session: AsyncSession, checkout: Checkout) -> None:
    values = checkout.model_dump(exclude={"checkout_id", "created_at"})
    await session.execute(
        update(_checkouts).where(_checkouts.c.checkout_id == checkout.checkout_id).values(values)
    )


async def lock_idle_checkouts(
    *, session: AsyncSession, cutoff: datetime, limit: int
) -> list[Checkout]:
    """Up to `limit` open checkouts with no activity since `cutoff` (by the shop's clock and by
    ours), oldest first, row-locked. Rows another replica's sweep holds are skipped, so
    concurrent sweeps share the work instead of waiting for each other."""
    result = await session.execute(
        select(_checkouts)
        .where(
            _checkouts.c.state == CheckoutState.OPEN.value,
            _checkouts.c.updated_at <= cutoff,
            _checkouts.c.received_at <= cutoff,
        )
        .order_by(_checkouts.c.updated_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [Checkout(**row._mapping) for row in result]


async def set_state(
    *,
    session: AsyncSession,
    checkout_ids: Collection[str],
    state: CheckoutState,
    at: datetime | None = None,
) -> None:
    """Move checkouts to `state`; `at` is the abandonment time."""
    if not checkout_ids:
        return
    await session.execute(
        update(_checkouts)
        .where(_checkouts.c.checkout_id.in_(list(checkout_ids)))
        .values(state=state.value, abandoned_at=at)
    )


async def orders_for(
    *, session: AsyncSession, checkouts: Sequence[CheckoutRefs]
) -> list[OrderRefs]:
    """Every order that may follow one of `checkouts` (a superset: `rules.order_follows`
    decides), found through the indexes on the checkout and cart ids orders carry, their
    customer id and their email."""
    if not checkouts:
        return []
    checkout_ref = _orders.c.body["checkout_id"].astext
    cart_token = _orders.c.body["cart_token"].astext
    earliest = min(c.started_at for c in checkouts)
    matches: list[ColumnElement[bool]] = []
    by_store: dict[str, list[CheckoutRefs]] = {}
    for checkout in checkouts:
        by_store.setdefault(checkout.store_id, []).append(checkout)
    # Array parameters per store rather than tuple IN lists, which SQLAlchemy compiles slowly.
    for n, (store_id, ours) in enumerate(sorted(by_store.items())):
        in_store = _orders.c.store_id == store_id
        checkout_ids = [c.external_id for c in ours]
        carts = [c.cart_external_id for c in ours if c.cart_external_id]
        customers = [c.customer_external_id for c in ours if c.customer_external_id]
        matches.append(and_(in_store, checkout_ref == any_(_array(f"k{n}", checkout_ids))))
        if carts:
            matches.append(and_(in_store, cart_token == any_(_array(f"c{n}", carts))))
        if customers:
            customer = _orders.c.customer_external_id == any_(_array(f"p{n}", customers))
            matches.append(and_(in_store, customer, _orders.c.placed_at >= earliest))
    emails = sorted({c.email for c in checkouts if c.email})
    if emails:
        email = func.lower(_orders.c.customer_email) == any_(_array("emails", emails))
        matches.append(and_(email, _orders.c.placed_at >= earliest))
    result = await session.execute(
        select(
            _orders.c.store_id,
            checkout_ref.label("checkout_ref"),
            cart_token.label("cart_token"),
            _orders.c.customer_external_id,
            _orders.c.customer_email,
            _orders.c.placed_at,
        ).where(or_(*matches))
    )
    return [
        OrderRefs(
            store_id=row.store_id,
            checkout_id=row.checkout_ref,
            cart_token=row.cart_token,
            customer_external_id=row.customer_external_id,
            email=normalized_email(row.customer_email),
            placed_at=row.placed_at,
        )
        for row in result
    ]


def _array(name: str, values: list[str]) -> Any:
    return bindparam(name, values, type_=ARRAY(String()))
