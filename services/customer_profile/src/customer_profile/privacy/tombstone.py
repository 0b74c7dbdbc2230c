"""Orders that still arrive for an erased customer: they count, but bring nothing personal back."""

from datetime import datetime

from crm_events.order import OrderSnapshot
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers import repository as customers
from customer_profile.customers.models import Customer, CustomerOrder
from customer_profile.customers.profile import compute_profile
from customer_profile.privacy import repository
from customer_profile.scoring import service as scoring
from customer_profile.scoring.service import ScoringBatch

STATISTICS = ("orders_count", "total_spent", "currency", "first_order_at", "last_order_at")


class ErasedWhileResolving(RuntimeError):
    """The customer an order's identities pointed at was erased before its row lock was taken;
    a retry resolves the order again against the identities left (so to a new customer)."""

    def __init__(self, customer_id: str, order_id: str) -> None:
        super().__init__(f"customer {customer_id} was erased while order {order_id} was applied")


async def erased_at(
    *,
    session: AsyncSession,
    customer_id: str,
    known: dict[str, datetime | None] | None = None,
) -> datetime | None:
    """When the customer (row-locked by the caller) was erased; None when it was not. `known`
    holds what the caller read of row-locked customers already, and learns this one."""
    if known is not None and customer_id in known:
        return known[customer_id]
    erasure = await repository.get_erasure(session=session, customer_id=customer_id)
    at = erasure.erased_at if erasure is not None else None
    if known is not None:
        known[customer_id] = at
    return at


async def absorbed(
    *,
    session: AsyncSession,
    customer: Customer,
    stored: CustomerOrder | None,
    order: OrderSnapshot,
    now: datetime,
    erasures: dict[str, datetime | None] | None = None,
    scores: ScoringBatch | None = None,
) -> bool:
    """Whether `order` belongs to the erased (and row-locked) `customer` and was applied to its
    tombstone: the order's amounts and state only (statistics and RFM), with no contact data, no
    identity, no timeline entry and no event, so the figures stay whole and the erased person is
    not revived. `erasures` as `erased_at` takes them; within a batch of order events the
    scores are kept in the batch's `scores`."""
    if await erased_at(session=session, customer_id=customer.customer_id, known=erasures) is None:
        return False
    if stored is None:
        raise ErasedWhileResolving(customer.customer_id, order.order_id)
    stored.placed_at = order.placed_at
    stored.currency = order.currency
    stored.net_paid = order.net_paid
    stored.cancelled = order.cancelled_at is not None
    stored.order_version = order.version
    profile = compute_profile(
        await customers.orders_of(session=session, customer_id=customer.customer_id)
    )
    changed = False
    for name in STATISTICS:
        value = getattr(profile, name)
        if getattr(customer, name) != value:
            setattr(customer, name, value)
            changed = True
    if changed:
        customer.version += 1
        customer.updated_at = now
    if scores is None:
        await scoring.refresh(session=session, customer_ids=[customer.customer_id], now=now)
    else:
        await scoring.refresh_in_batch(
            session=session, batch=scores, customer_ids=[customer.customer_id], now=now
        )
    return True
