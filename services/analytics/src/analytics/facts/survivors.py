"""Following merged customers to the customer they stand for now, under the advisory locks that
keep a concurrent merge, attribution or order from slipping between a read and a write.

A transaction locks orders before customers, each set in sorted order, so that transactions
locking overlapping sets queue instead of deadlocking; only the customers met while following
a chain of merges are locked later, as they are found.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.facts import repository


@dataclass
class Locks:
    """The orders and customers a transaction holds locked (until it ends): each is taken once."""

    orders: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)

    async def take_orders(self, session: AsyncSession, order_ids: Iterable[str]) -> None:
        missing = set(order_ids) - self.orders
        await repository.lock_orders(session=session, order_ids=missing)
        self.orders |= missing

    async def take_customers(self, session: AsyncSession, customer_ids: Iterable[str]) -> None:
        missing = set(customer_ids) - self.customers
        await repository.lock_customers(session=session, customer_ids=missing)
        self.customers |= missing


async def follow_merges(
    *, session: AsyncSession, locks: Locks, customer_ids: Collection[str]
) -> dict[str, str]:
    """Lock each customer, follow it through merges (locking each step) and return the customer
    it now stands for, by customer. Each step reads the merges after locking their customers,
    so a merge committed while we waited for a lock is seen on the next step."""
    current = {customer: customer for customer in customer_ids}
    seen = {customer: {customer} for customer in customer_ids}
    final: dict[str, str] = {}
    while current:
        await locks.take_customers(session, current.values())
        survivors = await repository.survivors_of(
            session=session, customer_ids=set(current.values())
        )
        following: dict[str, str] = {}
        for start, at in current.items():
            survivor = survivors.get(at)
            # A cycle cannot be recorded (a merge into its own merged customer is ignored), but
            # a survivor seen before ends the walk all the same.
            if survivor is None or survivor in seen[start]:
                final[start] = at
            else:
                seen[start].add(survivor)
                following[start] = survivor
        current = following
    return final
