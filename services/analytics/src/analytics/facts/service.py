"""Keeping the order facts in step with order-sync's orders and customer-profile's attributions.

Orders and customer events arrive on different topics, in any order and at least once, and
replicas apply them concurrently. Each topic's events come in batches, applied in one
transaction as if one at a time in offset order; a single event is a batch of one. Every write
that decides an order's customer first takes transaction-scoped locks on the order and on the
customers involved (`survivors.py`), so an attribution, a merge and the order's own arrival
never miss each other's uncommitted rows.

Orders, set-based: decode (keeping each order's newest version), lock the orders, read their
attributions, follow those customers' merges, and upsert every fact in one statement under the
version guard.

Customer events: decode, claim the event ids (one statement), lock every order and customer
the batch names, then apply in offset order: each run of consecutive attributions set-based,
merges and their undoing one by one, since what they change decides the attributions after.
"""

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from crm_common.kafka import PermanentEventError
from crm_events.customer import CustomerMerged, CustomerOrderAttributed, CustomerUnmerged
from crm_events.order import OrderSnapshot
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.facts import repository
from analytics.facts.events import (
    CUSTOMER_MERGED,
    CUSTOMER_UNMERGED,
    ORDER_ATTRIBUTED,
    ORDER_EVENT_PREFIX,
    FactRow,
    attribution_row,
    fact_row,
)
from analytics.facts.survivors import Locks, follow_merges
from analytics.rollups import service as rollups
from analytics.rollups.entries import OrderEntries, order_entries

logger = logging.getLogger(__name__)

CUSTOMERS_CONSUMER = "analytics.facts.customers"
# The fact's `version` column is a PostgreSQL integer.
MAX_VERSION = 2**31 - 1

APPLIED = "applied"
DUPLICATE = "duplicate"
SKIPPED = "skipped"
REJECTED = "rejected"


@dataclass
class Outcome:
    """What became of a batch's events: those rejected by position, with why, and how many
    had each outcome."""

    rejected: dict[int, Exception] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def reject(self, position: int, error: Exception) -> None:
        self.rejected[position] = error
        self.counts[REJECTED] += 1


@dataclass
class OrderBatch:
    """A batch of crm.orders.v1 events on its way through the stages."""

    outcome: Outcome
    facts: dict[str, FactRow]
    """Each order's newest version in the batch, by order id."""
    entries: dict[str, OrderEntries]
    """What each of those versions contributes to the roll-ups."""
    locks: Locks = field(default_factory=Locks)
    customers: dict[str, str] = field(default_factory=dict)
    """The customer of each attributed order, merges followed (filled by `resolve_customers`)."""


CustomerChange = CustomerOrderAttributed | CustomerMerged | CustomerUnmerged
Attribution = tuple[CustomerOrderAttributed, datetime]
"""An attribution and its envelope's time, which orders re-attributions (the contract carries
no time of its own)."""


@dataclass(frozen=True, slots=True)
class CustomerEvent:
    """A decoded crm.customers.v1 event analytics applies."""

    position: int
    event_id: str
    time: datetime
    """The envelope's time: it orders re-attributions, as the contract carries none."""
    change: CustomerChange


@dataclass
class CustomerBatch:
    """A batch of crm.customers.v1 events on its way through the stages."""

    outcome: Outcome
    events: list[CustomerEvent]
    """In offset order; after `claim_events`, only those applied for the first time."""
    locks: Locks = field(default_factory=Locks)
    moved: set[str] = field(default_factory=set)
    """The orders whose facts changed customer: their buyers are recounted at the end."""


async def apply_order_events(
    *, session: AsyncSession, events: Sequence[CloudEvent[dict[str, Any]]]
) -> Outcome:
    """Store the order snapshots of a batch of crm.order.* events in the caller's transaction,
    each unless a newer version is stored: the version guard makes redeliveries and stale
    arrivals harmless, so no event id is kept. Other types are skipped."""
    batch = decode_orders(events)
    await rollups.share_stores(
        session=session, store_ids={fact.store_id for fact in batch.facts.values()}
    )
    await resolve_customers(session=session, batch=batch)
    await store_facts(session=session, batch=batch)
    return batch.outcome


def decode_orders(events: Sequence[CloudEvent[dict[str, Any]]]) -> OrderBatch:
    """Validate each snapshot (rejecting those that break the contract) and keep each order's
    newest: of equal versions the first, as the stored one wins a tie."""
    outcome = Outcome()
    facts: dict[str, FactRow] = {}
    entries: dict[str, OrderEntries] = {}
    for position, event in enumerate(events):
        if not event.type.startswith(ORDER_EVENT_PREFIX):
            outcome.counts[SKIPPED] += 1
            continue
        try:
            snapshot = OrderSnapshot.model_validate(event.data)
        except ValidationError as error:
            outcome.reject(position, error)
            continue
        if snapshot.version > MAX_VERSION:
            outcome.reject(position, PermanentEventError(f"version above {MAX_VERSION}"))
            continue
        outcome.counts[APPLIED] += 1
        held = facts.get(snapshot.order_id)
        if held is None or held.version < snapshot.version:
            entries[snapshot.order_id] = order_entries(snapshot)
            facts[snapshot.order_id] = fact_row(snapshot, entries[snapshot.order_id])
    return OrderBatch(outcome=outcome, facts=facts, entries=entries)


async def resolve_customers(*, session: AsyncSession, batch: OrderBatch) -> None:
    """Lock the batch's orders, and find each one's customer: its attribution (stored before
    the order arrived, or since), merges followed."""
    await batch.locks.take_orders(session, batch.facts)
    attributed = await repository.attributed_customers(session=session, order_ids=batch.facts)
    survivors = await follow_merges(
        session=session, locks=batch.locks, customer_ids=set(attributed.values())
    )
    batch.customers = {order: survivors[customer] for order, customer in attributed.items()}


async def store_facts(*, session: AsyncSession, batch: OrderBatch) -> None:
    """Upsert the facts under the version guard, and replace the roll-up contributions of
    those written."""
    written = await repository.upsert_facts_if_newer(
        session=session, facts=list(batch.facts.values()), customers=batch.customers
    )
    await rollups.apply_order_versions(session=session, entries=batch.entries, written=written)


async def apply_customer_events(
    *, session: AsyncSession, events: Sequence[CloudEvent[dict[str, Any]]]
) -> Outcome:
    """Apply the attributions, merges and undone merges of a batch in the caller's
    transaction, each event id once; other customer events carry nothing analytics keeps.

    `crm.customer.erased` needs nothing either: no personal data is stored here, and customer
    ids are pseudonymous, so the erased customer's orders stay in the totals.
    """
    batch = decode_customer_events(events)
    await claim_events(session=session, batch=batch)
    await lock_participants(session=session, batch=batch)
    run: list[Attribution] = []
    moved = batch.moved
    for event in batch.events:
        if isinstance(event.change, CustomerOrderAttributed):
            run.append((event.change, event.time))
            continue
        moved |= await attribute_orders(session=session, locks=batch.locks, attributions=run)
        run = []
        if isinstance(event.change, CustomerMerged):
            moved |= await merge_customers(session=session, locks=batch.locks, merged=event.change)
        else:
            moved |= await unmerge_customers(
                session=session, locks=batch.locks, unmerged=event.change, at=event.time
            )
    moved |= await attribute_orders(session=session, locks=batch.locks, attributions=run)
    # Last, so that the buyers' locks come after every order and customer lock of the batch.
    await rollups.recount_buyers(session=session, order_ids=moved)
    return batch.outcome


_CUSTOMER_CONTRACTS: dict[str, type[CustomerChange]] = {
    ORDER_ATTRIBUTED: CustomerOrderAttributed,
    CUSTOMER_MERGED: CustomerMerged,
    CUSTOMER_UNMERGED: CustomerUnmerged,
}


def decode_customer_events(events: Sequence[CloudEvent[dict[str, Any]]]) -> CustomerBatch:
    outcome = Outcome()
    decoded: list[CustomerEvent] = []
    for position, event in enumerate(events):
        model = _CUSTOMER_CONTRACTS.get(event.type)
        if model is None:
            outcome.counts[SKIPPED] += 1
            continue
        try:
            change = model.model_validate(event.data)
        except ValidationError as error:
            outcome.reject(position, error)
            continue
        decoded.append(CustomerEvent(position, event.id, event.time, change))
    return CustomerBatch(outcome=outcome, events=decoded)


async def claim_events(*, session: AsyncSession, batch: CustomerBatch) -> None:
    """Keep the events applied for the first time: an id claimed before, or met earlier in the
    batch (a redelivery within one fetch), is a duplicate, as it would be one at a time."""
    claimed = await repository.claim_events(
        session=session, consumer=CUSTOMERS_CONSUMER, event_ids=(e.event_id for e in batch.events)
    )
    fresh: list[CustomerEvent] = []
    for event in batch.events:
        if event.event_id in claimed:
            claimed.discard(event.event_id)
            fresh.append(event)
    batch.outcome.counts[DUPLICATE] += len(batch.events) - len(fresh)
    batch.outcome.counts[APPLIED] += len(fresh)
    batch.events = fresh


async def lock_participants(*, session: AsyncSession, batch: CustomerBatch) -> None:
    """Lock every order the batch names, then every customer, before any write: the same order
    as an order batch takes them, so neither can store a customer read before the other
    committed, and both wait rather than deadlock."""
    orders: set[str] = set()
    customers: set[str] = set()
    for event in batch.events:
        change = event.change
        if isinstance(change, CustomerOrderAttributed):
            orders.add(change.order_id)
            customers.add(change.customer_id)
        else:
            customers |= {change.merged_id, change.survivor_id}
            if isinstance(change, CustomerUnmerged):
                orders.update(change.order_ids)
    await batch.locks.take_orders(session, orders)
    await batch.locks.take_customers(session, customers)


async def attribute_orders(
    *, session: AsyncSession, locks: Locks, attributions: Sequence[Attribution]
) -> set[str]:
    """Give each order its customer (a merged one counts for its survivor), stored or not yet.

    Of several attributions of one order, the latest by time wins, the later in offset order
    of equal times, as one at a time: a stored attribution gives way to one as late or later.
    The caller holds the orders locked. Returns the orders whose facts changed customer.
    """
    latest: dict[str, Attribution] = {}
    for attributed, at in attributions:
        held = latest.get(attributed.order_id)
        if held is None or held[1] <= at:
            latest[attributed.order_id] = (attributed, at)
    if not latest:
        return set()
    survivors = await follow_merges(
        session=session,
        locks=locks,
        customer_ids={attributed.customer_id for attributed, _ in latest.values()},
    )
    rows = [
        attribution_row(attributed, customer_id=survivors[attributed.customer_id], at=at)
        for attributed, at in latest.values()
    ]
    stored = await repository.upsert_attributions_if_newer(session=session, attributions=rows)
    return set(await repository.set_fact_customers(session=session, customers=stored))


async def merge_customers(
    *, session: AsyncSession, locks: Locks, merged: CustomerMerged
) -> set[str]:
    """Re-point every fact and attribution of the merged customer to the survivor, and remember
    the merge for later mentions of the merged id; returns the orders re-pointed."""
    await locks.take_customers(session, (merged.merged_id, merged.survivor_id))
    survivors = await follow_merges(session=session, locks=locks, customer_ids=[merged.survivor_id])
    survivor_id = survivors[merged.survivor_id]
    if survivor_id == merged.merged_id:
        logger.warning(
            "merge ignored: its survivor was itself merged into the merged customer",
            extra={"merge_id": merged.merge_id, "merged_id": merged.merged_id},
        )
        return set()
    # The survivor as named (its own merges are followed on every read), so that undoing a
    # later merge of the survivor leaves this one in effect.
    await repository.record_merge(
        session=session,
        merged_id=merged.merged_id,
        survivor_id=merged.survivor_id,
        at=merged.merged_at,
    )
    return set(
        await repository.repoint_customer(
            session=session, old_id=merged.merged_id, new_id=survivor_id
        )
    )


async def unmerge_customers(
    *, session: AsyncSession, locks: Locks, unmerged: CustomerUnmerged, at: datetime
) -> set[str]:
    """Undo a merge as the event describes it: the merged customer stands for itself again
    (with the customers merged into it before), and `order_ids` go back to it.

    An order attributed anew after the undo (`at`, the envelope's time) keeps that attribution.
    The caller holds `order_ids` locked, taken before any customer as an order's own arrival
    and its attribution take them, so neither can store a customer read before the undo
    committed. Returns the orders given back.
    """
    await locks.take_customers(session, (unmerged.merged_id, unmerged.survivor_id))
    await repository.forget_merge(session=session, merged_id=unmerged.merged_id)
    survivors = await follow_merges(session=session, locks=locks, customer_ids=[unmerged.merged_id])
    given = await repository.reattribute(
        session=session,
        order_ids=unmerged.order_ids,
        customer_id=survivors[unmerged.merged_id],
        not_after=at,
    )
    return set(given)


async def apply_order_event(*, session: AsyncSession, event: CloudEvent[dict[str, Any]]) -> None:
    """`apply_order_events` on a batch of one; raises why the event is rejected."""
    _raise_rejection(await apply_order_events(session=session, events=[event]))


async def apply_customer_event(*, session: AsyncSession, event: CloudEvent[dict[str, Any]]) -> None:
    """`apply_customer_events` on a batch of one; raises why the event is rejected."""
    _raise_rejection(await apply_customer_events(session=session, events=[event]))


def _raise_rejection(outcome: Outcome) -> None:
    for error in outcome.rejected.values():
        raise error
