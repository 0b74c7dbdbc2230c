"""Applying a batch of crm.orders.v1 events in one transaction, with exactly the result of
applying them one at a time.

Each event goes through `service.attribute_order`, in partition order, on the state the events
before it left (the same transaction), with a clock that never stands still, so customers
created in one batch keep the age order that decides which survives a merge. Between events the
session forgets the rows it loaded, so the ORM never hands an event a row another left behind.
What the batch saves is the transaction per event (its commit, and the claim of every event id
in `processed_events`: one statement for the batch) and the reads every event would repeat:
those are made once, before the first event, into the batch's memo (`memo.py`), which the
batch's own writes keep current; sightings, RFM rows and timeline entries are written once,
after the last (entries earlier when something else touches the timeline).

An event whose order breaks its contract, or that names nobody and was never attributed, is
reported by position and left unclaimed (a redrive applies it once fixed); events of a type that
is no order lifecycle event are skipped, unclaimed. Anything else that fails fails the batch,
which the consumer retries and then applies one event at a time.
"""

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_common.envelope import CloudEvent
from crm_common.kafka import PermanentEventError
from crm_common.outbox import add_event
from crm_events.order import OrderSnapshot
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.addresses import repository as addresses
from customer_profile.attributes import service as attributes
from customer_profile.consents import repository as consents
from customer_profile.customers import repository, service
from customer_profile.customers.exceptions import NoUsableIdentity
from customer_profile.customers.identities import IdentityKey, digest, order_identity_keys
from customer_profile.customers.memo import BatchMemo, install, uninstall
from customer_profile.customers.policy import DEFAULT_POLICY, IdentityPolicy
from customer_profile.privacy import repository as privacy
from customer_profile.scoring import service as scoring
from customer_profile.timeline import repository as timeline_repository
from customer_profile.timeline import service as timeline

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
    keys = {p: order_identity_keys(order, guard=policy.guard) for p, order in orders.items()}
    unusable = await _without_identity(session, orders, keys)
    session.expunge_all()
    for position in unusable:
        order_id = orders.pop(position).order_id
        outcome.rejected[position] = PermanentEventError(str(NoUsableIdentity(order_id)))
    # A redelivered id may come twice in one batch: the first copy applies, later ones are
    # duplicates, exactly as they would be one transaction after the other.
    first: dict[str, int] = {}
    for position in orders:
        first.setdefault(events[position].id, position)
    claimed = await timeline_repository.first_deliveries(
        session=session, consumer=service.CONSUMER, event_ids=list(first), now=datetime.now(UTC)
    )
    fresh = {
        position: order
        for position, order in orders.items()
        if first[events[position].id] == position and events[position].id in claimed
    }
    outcome.outcomes[DUPLICATE] += len(orders) - len(fresh)
    memo = await _memo(session, fresh, keys)
    install(session, memo)
    owed: list[CloudEvent[Any]] = []
    try:
        for position, order in fresh.items():
            owed += await service.attribute_order(
                session=session, order=order, now=clock(), policy=policy, keys=keys[position]
            )
            # The next event reads what this one wrote, not the rows it left in the session.
            await session.flush()
            session.expunge_all()
            outcome.outcomes[ATTRIBUTED] += 1
        await timeline.write_held_entries(session=session)
    finally:
        uninstall(session)
    await repository.add_sightings_seen(session=session, seen=memo.sightings)
    await scoring.write_batch(session=session, memo=memo)
    # Staged once the batch is done, in the order owed: the outbox re-examines what is staged
    # at the end of every flush, which would cost the batch time quadratic in its events.
    for event in owed:
        add_event(session, topic=customers_topic, key=event.subject, event=event)
    outcome.outcomes[REJECTED] += len(outcome.rejected)
    return outcome


async def _memo(
    session: AsyncSession,
    orders: Mapping[int, OrderSnapshot],
    keys: Mapping[int, Sequence[IdentityKey]],
) -> BatchMemo:
    """What the events of the batch would each read alike, read once: which of their orders are
    stored and with which addresses, the sightings of their identities, and all that `_hold`
    reads of the customers they point at."""
    batch_keys = list({key for position in orders for key in keys[position]})
    order_ids = list({order.order_id for order in orders.values()})
    memo = BatchMemo()
    memo.orders = await repository.stored_order_ids(session=session, order_ids=order_ids)
    memo.addresses = await addresses.kinds_of(session=session, order_ids=order_ids)
    # Emails are never counted as shared: they have no partners to read.
    memo.partners = await repository.partners_of(
        session=session, identity_digests=[digest(key) for key in batch_keys if key.rank > 0]
    )
    holders = await repository.holders(session=session, keys=batch_keys, order_ids=order_ids)
    await _hold(session, memo, sorted(holders))
    # Read under the locks: identities pointing at a locked customer cannot move.
    memo.owners = await repository.identity_owners(session=session, keys=batch_keys)
    memo.keys = set(batch_keys)
    memo.pending_scope = {digest(key) for key in batch_keys}
    memo.pending_scope.update(row.value for rows in memo.identities.values() for row in rows)
    memo.pending = await timeline_repository.pending_naming(
        session=session, digests=list(memo.pending_scope)
    )
    return memo


async def _hold(session: AsyncSession, memo: BatchMemo, holders: Sequence[str]) -> None:
    """Lock `holders` now rather than at the first event naming each, so that what the memo
    reads about them (identities, orders, erasure, tags and traits, consents, RFM) stays true
    until the commit."""
    if not holders:
        return
    await repository.lock_ids(session=session, customer_ids=holders)
    memo.locked.update(holders)
    memo.identities = await repository.identities_of_many(session=session, customer_ids=holders)
    memo.orders_of = await repository.order_facts_of_many(session=session, customer_ids=holders)
    erased = await privacy.erased_among(session=session, customer_ids=holders)
    memo.erasures = {customer_id: None for customer_id in holders if customer_id not in erased}
    memo.attributes = await attributes.attributes_of_many(session=session, customer_ids=holders)
    memo.consentless = set(holders) - await consents.consenting(
        session=session, customer_ids=holders
    )
    await scoring.lock_batch(session=session, memo=memo)
    await scoring.load_batch(session=session, memo=memo, customer_ids=holders)


async def _without_identity(
    session: AsyncSession,
    orders: dict[int, OrderSnapshot],
    keys: Mapping[int, Sequence[IdentityKey]],
) -> list[int]:
    """The positions whose order names no usable identity and was not attributed before them:
    what `attribute_order` refuses with NoUsableIdentity (an order attributed once keeps its
    customer, whatever its later snapshots say)."""
    keyless = {position for position in orders if not keys[position]}
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
