"""The timeline rules: whose each event is, what it adds, and how a page of it is read."""

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_common.envelope import CloudEvent
from crm_events.order import OrderSnapshot
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers import repository as customers
from customer_profile.customers.identities import (
    DEFAULT_GUARD,
    IdentityGuard,
    IdentityKey,
    digest,
    resolve,
)
from customer_profile.customers.models import CustomerIdentity
from customer_profile.privacy import repository as privacy
from customer_profile.timeline import activity, cursors, repository
from customer_profile.timeline.entries import Draft, event_draft, order_drafts
from customer_profile.timeline.models import TimelineEntry

CONSUMER = "customer-profile.timeline"
DEFAULT_PENDING = timedelta(days=30)


@dataclass
class Applied:
    """What a batch of events did: the positions rejected with why, and a count per outcome
    (`recorded`, `pending`, `joined`, `duplicate`, `no_customer_id`, `anonymous`, `erased`,
    `expired`)."""

    rejected: dict[int, str] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)

    def count(self, outcome: str, events: int = 1) -> None:
        if events:
            self.outcomes[outcome] += events


@dataclass
class TimelineBatch:
    """What a batch of order events knows of the timeline: the pending activity that may concern
    its customers, and the entries it holds back."""

    pending_scope: set[str] = field(default_factory=set)
    """The identity digests any customer of the batch can hold: those of its orders and every one
    held by a customer that one of them, or one of its orders, points at."""
    pending: set[str] = field(default_factory=set)
    """Those of `pending_scope` that pending activity names (expired or not: the nightly job
    drops what expired, and attaching takes only what has not)."""
    entries: list[dict[str, Any]] = field(default_factory=list)
    """Timeline entries (`repository.entry_row`) not written yet: written together before
    anything else touches the timeline, and at the end of the batch."""

    def nothing_pending(self, digests: Iterable[str]) -> bool:
        """Whether no pending activity names any of `digests` (False when unsure)."""
        wanted = set(digests)
        return wanted <= self.pending_scope and not wanted & self.pending


async def load_batch(*, session: AsyncSession, digests: Iterable[str]) -> TimelineBatch:
    """The timeline's part of a batch whose customers can hold the identities `digests`."""
    scope = set(digests)
    return TimelineBatch(
        scope, await repository.pending_naming(session=session, digests=list(scope))
    )


async def record_order_event(
    *,
    session: AsyncSession,
    batch: TimelineBatch,
    customer_id: str,
    order: OrderSnapshot,
    now: datetime,
    identities: Sequence[CustomerIdentity],
) -> None:
    """Add the milestones `order` has reached to its customer's timeline (each once, however
    often or in whatever order its snapshots arrive; held back in `batch`), and attach the
    storefront activity that was waiting for any of the customer's `identities`."""
    batch.entries += [
        repository.entry_row(d, customer_id=customer_id, now=now) for d in order_drafts(order)
    ]
    await attach_pending(
        session=session, customer_id=customer_id, now=now, identities=identities, batch=batch
    )


async def write_held_entries(*, session: AsyncSession, batch: TimelineBatch) -> None:
    """Write the entries `batch` holds back, so that what follows sees them in the order they
    were made."""
    if batch.entries:
        rows, batch.entries = batch.entries, []
        await repository.add_entry_rows(session=session, rows=rows)


async def attach_pending(
    *,
    session: AsyncSession,
    customer_id: str,
    now: datetime | None = None,
    identities: Sequence[CustomerIdentity] | None = None,
    batch: TimelineBatch | None = None,
) -> int:
    """Move the unexpired pending activity naming any identity of the customer (all of them in
    `identities`, when the caller has them) onto their timeline; call it wherever identities are
    linked. Returns how many entries it added."""
    now = now or _now()
    if identities is None:
        identities = await customers.identities_of(session=session, customer_id=customer_id)
    digests = [digest(customers.key_of(row)) for row in identities]
    if batch is not None:
        if batch.nothing_pending(digests):
            return 0
        await write_held_entries(session=session, batch=batch)
    drafts = await repository.take_pending(session=session, digests=digests, now=now)
    return await repository.add_entries(
        session=session, entries=[(customer_id, d) for d in drafts], now=now
    )


async def apply_customer_events(
    *, session: AsyncSession, events: Sequence[CloudEvent[dict[str, Any]]], now: datetime
) -> Applied:
    """Record events that name our customer in `data.customer_id` (crm.messages.v1,
    crm.tickets.v1). An event naming nobody is not about a customer and adds nothing; one
    naming an id we never issued is rejected; a merged customer's go to the survivor; an erased
    customer's add nothing."""
    applied = Applied()
    named: dict[int, str] = {}
    for position, event in enumerate(events):
        customer_id = event.data.get("customer_id")
        if customer_id is None:
            applied.count("no_customer_id")
        elif not isinstance(customer_id, str) or not customer_id.strip():
            applied.rejected[position] = "data.customer_id must be a non-empty string"
        else:
            named[position] = customer_id
    owners = await _survivors(session, set(named.values()))
    erased = await privacy.erased_among(session=session, customer_ids=list(set(owners.values())))
    entries: dict[int, tuple[str, Draft]] = {}
    for position, customer_id in named.items():
        owner = owners.get(customer_id)
        if owner is None:
            applied.rejected[position] = f"no customer {customer_id} (data.customer_id)"
        elif owner in erased:
            applied.count("erased")
        else:
            entries[position] = (owner, event_draft(events[position]))
    fresh = await _first_deliveries(session, events, entries, now, applied)
    added = await repository.add_entries(
        session=session, entries=[entries[p] for p in fresh], now=now
    )
    applied.count("recorded", added)
    applied.count("duplicate", len(fresh) - added)
    return applied


async def apply_activity(
    *,
    session: AsyncSession,
    events: Sequence[CloudEvent[dict[str, Any]]],
    now: datetime,
    guard: IdentityGuard = DEFAULT_GUARD,
    pending_for: timedelta = DEFAULT_PENDING,
) -> Applied:
    """Record storefront activity on the timeline of the customer its identities point at
    (highest priority first; no customer is ever created here).

    Activity nobody can be found for yet waits as pending for `pending_for` after it happened:
    under its identities (attached when one links to a customer) and under the shop's anonymous
    visitor id (joined to the identities of a later event naming both, such as
    `shop.customer.identified`). Activity naming neither adds nothing.
    """
    applied = Applied()
    parsed: dict[int, tuple[activity.Activity, list[IdentityKey], str | None]] = {}
    for position, event in enumerate(events):
        try:
            found = activity.parse(event)
        except ValidationError as error:
            applied.rejected[position] = f"data: {error}"
            continue
        keys = found.keys(guard=guard)
        anonymous = found.anonymous_digest()
        if keys or anonymous is not None:
            parsed[position] = (found, keys, anonymous)
        else:
            applied.count("anonymous")
    owners = await customers.identity_owners(
        session=session, keys=list({key for _, keys, _ in parsed.values() for key in keys})
    )
    entries: dict[int, tuple[str, Draft]] = {}
    pending: dict[int, tuple[list[str], Draft, datetime]] = {}
    joins: list[tuple[str, str | None, list[str]]] = []
    for position, (found, keys, anonymous) in parsed.items():
        owner = resolve(keys, owners) if keys else None
        digests = [digest(key) for key in keys]
        if anonymous is not None and keys:
            joins.append((anonymous, owner, digests))
        if owner is not None:
            entries[position] = (owner, found.draft)
        elif found.draft.occurred_at + pending_for <= now:
            applied.count("expired")
        else:
            waiting = [*digests, anonymous] if anonymous is not None else digests
            pending[position] = (waiting, found.draft, found.draft.occurred_at + pending_for)
    fresh = await _first_deliveries(session, events, entries.keys() | pending.keys(), now, applied)
    to_add = [entries[p] for p in fresh if p in entries]
    to_park = [pending[p] for p in fresh if p in pending]
    added = await repository.add_entries(session=session, entries=to_add, now=now)
    await repository.add_pending(session=session, pending=to_park, now=now)
    applied.count("recorded", added)
    applied.count("duplicate", len(to_add) - added)
    applied.count("pending", len(to_park))
    for anonymous, owner, digests in joins:
        applied.count("joined", await _join(session, anonymous, owner, digests, now))
    return applied


async def _join(
    session: AsyncSession, anonymous: str, owner: str | None, digests: list[str], now: datetime
) -> int:
    """The activity waiting under an anonymous visitor now named by `digests`: onto the owner's
    timeline when they are known, else waiting under those identities too. Returns how much
    activity was joined."""
    if owner is None:
        return await repository.extend_pending(session=session, having=anonymous, add=digests)
    drafts = await repository.take_pending(session=session, digests=[anonymous], now=now)
    await repository.add_entries(session=session, entries=[(owner, d) for d in drafts], now=now)
    return len(drafts)


async def page(
    *, session: AsyncSession, customer_id: str, cursor: str | None, limit: int
) -> tuple[list[TimelineEntry], str | None]:
    """One page of the customer's timeline, newest first, and the cursor of the next page (None
    on the last one)."""
    rows = await repository.page(
        session=session,
        customer_id=customer_id,
        before=cursors.decode(cursor) if cursor is not None else None,
        limit=limit + 1,
    )
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    if last.entry_id is None:
        raise AssertionError("a stored entry has an id")
    return rows[:limit], cursors.encode(last.occurred_at, last.entry_id)


async def erase(*, session: AsyncSession, customer_ids: Sequence[str]) -> int:
    """Delete the timeline of `customer_ids` and the pending activity naming any of their
    identities; call it in the erasure's transaction *before* the identities are deleted.
    Returns how many entries went."""
    identities = await customers.identities_of_many(session=session, customer_ids=customer_ids)
    digests = [digest(customers.key_of(row)) for rows in identities.values() for row in rows]
    await repository.delete_pending_naming(session=session, digests=digests)
    return await repository.delete_entries(session=session, customer_ids=customer_ids)


async def purge_pending(*, session: AsyncSession, now: datetime | None = None) -> int:
    """Drop the pending activity whose waiting time is over; returns how many."""
    return await repository.purge_pending(session=session, now=now or _now())


async def _first_deliveries(
    session: AsyncSession,
    events: Sequence[CloudEvent[dict[str, Any]]],
    positions: Collection[int],
    now: datetime,
    applied: Applied,
) -> list[int]:
    """Of the events at `positions` (those that would add something), the positions of the
    ones not applied before, each id once. Only these are claimed: a rejected event must apply
    when it is redriven from the dead-letter topic."""
    wanted = sorted(positions)
    claimed = await repository.first_deliveries(
        session=session,
        consumer=CONSUMER,
        event_ids=list(dict.fromkeys(events[p].id for p in wanted)),
        now=now,
    )
    fresh: list[int] = []
    for position in wanted:
        event_id = events[position].id
        if event_id in claimed:
            claimed.discard(event_id)
            fresh.append(position)
        else:
            applied.count("duplicate")
    return fresh


async def _survivors(session: AsyncSession, customer_ids: set[str]) -> dict[str, str]:
    """For each known customer id, the customer it lives on as: itself, or the end of its
    merge chain (one query per link of the longest chain, not per customer)."""
    parent = await repository.merged_into(session=session, customer_ids=list(customer_ids))
    asked = set(customer_ids)
    while frontier := {t for t in parent.values() if t is not None and t not in asked}:
        asked |= frontier
        parent |= await repository.merged_into(session=session, customer_ids=list(frontier))

    def end_of(customer_id: str) -> str:
        seen = {customer_id}
        node = customer_id
        while (onward := parent.get(node)) is not None and onward not in seen:
            seen.add(onward)
            node = onward
        return node

    return {
        customer_id: end_of(customer_id) for customer_id in customer_ids if customer_id in parent
    }


def _now() -> datetime:
    return datetime.now(UTC)
