"""Applying a batch of crm.orders.v1 events in one transaction, with exactly the result of
applying them one at a time.

Each event goes through `service.attribute_order`, in partition order, on the state the events
before it left (the same transaction), with a clock that never stands still, so customers
created in one batch keep the age order that decides which survives a merge. Between events the
session forgets the rows it loaded: every event reads the database afresh, as it would in a
transaction of its own. What the batch saves is the transaction per event: its commit, and the
claim of every event id in `processed_events` (one statement for the batch).

An event whose order breaks its contract, or that names nobody and was never attributed, is
reported by position and left unclaimed (a redrive applies it once fixed); events of a type that
is no order lifecycle event are skipped, unclaimed. Anything else that fails fails the batch,
which the consumer retries and then applies one event at a time.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_common.envelope import CloudEvent
from crm_common.kafka import PermanentEventError
from crm_common.outbox import add_event
from crm_events.order import OrderSnapshot
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers import repository, service
from customer_profile.customers.exceptions import NoUsableIdentity
from customer_profile.customers.identities import order_identity_keys
from customer_profile.customers.policy import DEFAULT_POLICY, IdentityPolicy
from customer_profile.timeline import repository as claims

Clock = Callable[[], datetime]

ATTRIBUTED = "attributed"
DUPLICATE = "duplicate"
SKIPPED = "skipped"
REJECTED = "rejected"


class MonotonicClock:
    """`datetime.now(UTC)`, but each reading strictly later than the one before."""

    def __init__(self, now: Clock | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._last: datetime | None = None

    def __call__(self) -> datetime:
        now = self._now()
        if self._last is not None and now <= self._last:
            now = self._last + timedelta(microseconds=1)
        self._last = now
        return now


@dataclass
class BatchOutcome:
    """The positions rejected with why, and how many events had each outcome."""

    rejected: dict[int, Exception] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)


async def apply_order_events(
    *,
    session: AsyncSession,
    events: Sequence[CloudEvent[dict[str, Any]]],
    customers_topic: str,
    policy: IdentityPolicy = DEFAULT_POLICY,
    clock: Clock | None = None,
) -> BatchOutcome:
    """Attribute the orders of `events` in the caller's transaction, staging the customer events
    owed on `customers_topic`, as `service.apply_order_event` would one event at a time.

    `clock` gives the time of each attribution (called once per event attributed, in order).
    """
    clock = clock or MonotonicClock()
    outcome = BatchOutcome()
    orders: dict[int, OrderSnapshot] = {}
    for position, event in enumerate(events):
        if event.type not in service.ORDER_EVENT_TYPES:
            outcome.outcomes[SKIPPED] += 1
            continue
        try:
            orders[position] = OrderSnapshot.model_validate(event.data)
        except ValidationError as error:
            outcome.rejected[position] = error
    unusable = await _without_identity(session, orders, policy)
    session.expunge_all()
    for position in unusable:
        order_id = orders.pop(position).order_id
        outcome.rejected[position] = PermanentEventError(str(NoUsableIdentity(order_id)))
    # A redelivered id may come twice in one batch: the first copy applies, later ones are
    # duplicates, exactly as they would be one transaction after the other.
    first: dict[str, int] = {}
    for position in orders:
        first.setdefault(events[position].id, position)
    claimed = await claims.first_deliveries(
        session=session, consumer=service.CONSUMER, event_ids=list(first), now=datetime.now(UTC)
    )
    owed: list[CloudEvent[Any]] = []
    for position, order in orders.items():
        if first[events[position].id] != position or events[position].id not in claimed:
            outcome.outcomes[DUPLICATE] += 1
            continue
        owed += await service.attribute_order(
            session=session, order=order, now=clock(), policy=policy
        )
        # The next event reads what this one wrote, not the rows it left in the session.
        await session.flush()
        session.expunge_all()
        outcome.outcomes[ATTRIBUTED] += 1
    # Staged once the batch is done, in the order owed: the outbox re-examines what is staged
    # at the end of every flush, which would cost the batch time quadratic in its events.
    for event in owed:
        add_event(session, topic=customers_topic, key=event.subject, event=event)
    outcome.outcomes[REJECTED] += len(outcome.rejected)
    return outcome


async def _without_identity(
    session: AsyncSession, orders: dict[int, OrderSnapshot], policy: IdentityPolicy
) -> list[int]:
    """The positions whose order names no usable identity and was not attributed before them:
    what `attribute_order` refuses with NoUsableIdentity (an order attributed once keeps its
    customer, whatever its later snapshots say)."""
    keyless = {
        position
        for position, order in orders.items()
        if not order_identity_keys(order, guard=policy.guard)
    }
    if not keyless:
        return []
    known = {
        orders[p].order_id
        for p in keyless
        if await repository.get_order(session=session, order_id=orders[p].order_id) is not None
    }
    unusable = []
    for position, order in orders.items():
        if position in keyless and order.order_id not in known:
            unusable.append(position)
        else:
            known.add(order.order_id)
    return unusable
