"""Order ingestion: a batch of crm.orders.v1 events applied in one transaction, with exactly the
result of applying them one at a time. A single event is a batch of one.

The stages, in order, each handed the batch's state (`IngestBatch`):
- decode: the order snapshots and their identity keys; what breaks the contract is rejected;
- claim: orders naming nobody that were never attributed are rejected, and each event id is
  claimed in `processed_events` (one statement), so redeliveries are duplicates;
- load: what every event would read alike, read once: which orders are stored and with which
  addresses, the sightings of the batch's identities, and, for the customers its identities
  and orders point at (row-locked now, in id order), their identities and owners, orders,
  erasure, tags and traits, consents and RFM rows (under the scoring lock), and the pending
  activity their identities may have;
- attribute: each order, in partition order, on the state the orders before it left (the same
  transaction), with a clock that never stands still, so customers created in one batch keep
  the age order that decides which survives a merge: plan (resolve and merge), write (customer,
  order, addresses, consent, names), record (timeline, scores) and the events owed;
- finish: the held timeline entries, the sightings and the RFM rows, written once; then the
  events owed, staged in the outbox in publishing order.

An event whose order breaks its contract, or that names nobody and was never attributed, is
reported by position and left unclaimed (a redrive applies it once fixed); events of a type that
is no order lifecycle event are skipped, unclaimed. Anything else that fails fails the batch,
which the consumer retries and then applies one event at a time (batches of one).
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from crm_common.envelope import CloudEvent
from crm_common.kafka import PermanentEventError
from crm_common.outbox import add_event
from crm_events.customer import IdentityKind
from crm_events.order import ORDER_CONTRACTS, OrderSnapshot
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.addresses import repository as addresses_repository
from customer_profile.addresses import service as addresses
from customer_profile.attributes import service as attributes
from customer_profile.consents import repository as consents_repository
from customer_profile.consents import service as consents
from customer_profile.customers import events, repository, resolution
from customer_profile.customers.clock import Clock, MonotonicClock
from customer_profile.customers.events import NO_ATTRIBUTES, Attributes
from customer_profile.customers.exceptions import NoUsableIdentity
from customer_profile.customers.identities import IdentityKey, digest, order_identity_keys
from customer_profile.customers.models import Customer, CustomerIdentity, CustomerOrder
from customer_profile.customers.participants import MergeParticipant
from customer_profile.customers.policy import DEFAULT_POLICY, IdentityPolicy
from customer_profile.customers.profile import Profile, compute_profile, stored_profile
from customer_profile.customers.repository import OrderFacts
from customer_profile.customers.state import CustomerBatch
from customer_profile.merges import plans
from customer_profile.merges import service as merges
from customer_profile.privacy import repository as privacy
from customer_profile.privacy import tombstone
from customer_profile.scoring import service as scoring
from customer_profile.scoring.participant import ScoresFollowMerges
from customer_profile.scoring.service import ScoringBatch
from customer_profile.search import indexing
from customer_profile.timeline import repository as timeline_repository
from customer_profile.timeline import service as timeline
from customer_profile.timeline.participant import TimelineFollowsMerges
from customer_profile.timeline.service import TimelineBatch

CONSUMER = "customer-profile.customers"
ORDER_EVENT_TYPES = frozenset(contract.type for contract in ORDER_CONTRACTS)
_CONTACT = ("email", "phone", "first_name", "last_name")

ATTRIBUTED = "attributed"
DUPLICATE = "duplicate"
SKIPPED = "skipped"
REJECTED = "rejected"


@dataclass
class BatchOutcome:
    """The positions rejected with why, and how many events had each outcome."""

    rejected: dict[int, Exception] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass
class IngestBatch:
    """The state of one batch, handed from stage to stage."""

    events: Sequence[CloudEvent[dict[str, Any]]]
    policy: IdentityPolicy
    outcome: BatchOutcome = field(default_factory=BatchOutcome)
    orders: dict[int, OrderSnapshot] = field(default_factory=dict)
    """The orders still to apply, by position."""
    keys: dict[int, list[IdentityKey]] = field(default_factory=dict)
    """Per position: the order's identity keys."""
    customers: CustomerBatch = field(default_factory=CustomerBatch)
    timeline: TimelineBatch = field(default_factory=TimelineBatch)
    scores: ScoringBatch = field(default_factory=ScoringBatch)
    consentless: set[str] = field(default_factory=set)
    """Customers row-locked by the batch without any consent row."""
    erasures: dict[str, datetime | None] = field(default_factory=dict)
    """Per customer row-locked by the batch: when it was erased (None: it was not)."""
    attributes: dict[str, Attributes] = field(default_factory=dict)
    """Per customer row-locked by the batch: its tags and traits."""
    addresses: dict[str, set[str]] = field(default_factory=dict)
    """Per stored order of the batch: the kinds of address stored for it."""
    owed: list[CloudEvent[Any]] = field(default_factory=list)
    """The customer events owed, in publishing order."""

    def created(self, customer_id: str) -> None:
        self.customers.created(customer_id)
        self.consentless.add(customer_id)
        self.scores.created(customer_id)

    def merged(self, customer_ids: Sequence[str]) -> None:
        """Merges changed the tags, traits and consents of `customer_ids`: read them afresh."""
        for customer_id in customer_ids:
            self.attributes.pop(customer_id, None)
            self.consentless.discard(customer_id)

    def participants(self) -> tuple[MergeParticipant, ...]:
        """The policy's merge participants, those that keep batch state bound to this batch."""
        return tuple(
            ScoresFollowMerges(self.scores)
            if isinstance(participant, ScoresFollowMerges)
            else TimelineFollowsMerges(self.timeline)
            if isinstance(participant, TimelineFollowsMerges)
            else participant
            for participant in self.policy.participants
        )


async def apply_order_events(
    *,
    session: AsyncSession,
    events: Sequence[CloudEvent[dict[str, Any]]],
    customers_topic: str,
    policy: IdentityPolicy = DEFAULT_POLICY,
    clock: Clock | None = None,
) -> BatchOutcome:
    """Attribute the orders of `events` in the caller's transaction, staging the customer events
    owed on `customers_topic`, as one transaction per event would.

    `clock` gives the time of each attribution (called once per event attributed, in order).
    """
    batch = IngestBatch(events, policy)
    decode(batch)
    await claim(session, batch)
    await load(session, batch)
    await attribute(session, batch, clock or MonotonicClock())
    await finish(session, batch, customers_topic)
    batch.outcome.outcomes[REJECTED] += len(batch.outcome.rejected)
    return batch.outcome


def decode(batch: IngestBatch) -> None:
    """The orders of the batch's order lifecycle events, and their identity keys."""
    for position, event in enumerate(batch.events):
        if event.type not in ORDER_EVENT_TYPES:
            batch.outcome.outcomes[SKIPPED] += 1
            continue
        try:
            batch.orders[position] = OrderSnapshot.model_validate(event.data)
        except ValidationError as error:
            batch.outcome.rejected[position] = error
    batch.keys = {
        position: order_identity_keys(order, guard=batch.policy.guard)
        for position, order in batch.orders.items()
    }


async def claim(session: AsyncSession, batch: IngestBatch) -> None:
    """Reject the orders naming nobody that were never attributed, and claim the others' event
    ids: a redelivered id may come twice in one batch, the first copy applies, later ones are
    duplicates, exactly as they would be one transaction after the other."""
    for position in await _without_identity(session, batch.orders, batch.keys):
        unusable = NoUsableIdentity(batch.orders.pop(position).order_id)
        rejection = PermanentEventError(str(unusable))
        rejection.__cause__ = unusable
        batch.outcome.rejected[position] = rejection
    session.expunge_all()
    first: dict[str, int] = {}
    for position in batch.orders:
        first.setdefault(batch.events[position].id, position)
    claimed = await timeline_repository.first_deliveries(
        session=session, consumer=CONSUMER, event_ids=list(first), now=datetime.now(UTC)
    )
    fresh = {
        position: order
        for position, order in batch.orders.items()
        if first[batch.events[position].id] == position and batch.events[position].id in claimed
    }
    batch.outcome.outcomes[DUPLICATE] += len(batch.orders) - len(fresh)
    batch.orders = fresh


async def load(session: AsyncSession, batch: IngestBatch) -> None:
    """What the events of the batch would each read alike, read once."""
    state = batch.customers
    batch_keys = list({key for position in batch.orders for key in batch.keys[position]})
    order_ids = list({order.order_id for order in batch.orders.values()})
    state.orders = await repository.stored_order_ids(session=session, order_ids=order_ids)
    batch.addresses = await addresses_repository.kinds_of(session=session, order_ids=order_ids)
    # Emails are never counted as shared: they have no partners to read.
    state.partners = await repository.partners_of(
        session=session, identity_digests=[digest(key) for key in batch_keys if key.rank > 0]
    )
    holders = await repository.holders(session=session, keys=batch_keys, order_ids=order_ids)
    await _hold(session, batch, sorted(holders))
    # Read under the locks: identities pointing at a locked customer cannot move.
    state.owners = await repository.identity_owners(session=session, keys=batch_keys)
    state.keys = set(batch_keys)
    scope = {digest(key) for key in batch_keys}
    scope.update(row.value for rows in state.identities.values() for row in rows)
    batch.timeline = await timeline.load_batch(session=session, digests=scope)


async def _hold(session: AsyncSession, batch: IngestBatch, holders: Sequence[str]) -> None:
    """Lock `holders` now rather than at the first event naming each, so that what the batch
    reads about them (identities, orders, erasure, tags and traits, consents, RFM) stays true
    until the commit."""
    if not holders:
        return
    state = batch.customers
    await repository.lock_ids(session=session, customer_ids=holders)
    state.locked.update(holders)
    state.identities = await repository.identities_of_many(session=session, customer_ids=holders)
    state.orders_of = await repository.order_facts_of_many(session=session, customer_ids=holders)
    erased = await privacy.erased_among(session=session, customer_ids=holders)
    batch.erasures = {customer_id: None for customer_id in holders if customer_id not in erased}
    batch.attributes = await attributes.attributes_of_many(session=session, customer_ids=holders)
    batch.consentless = set(holders) - await consents_repository.consenting(
        session=session, customer_ids=holders
    )
    await scoring.lock_batch(session=session, batch=batch.scores)
    await scoring.load_batch(session=session, batch=batch.scores, customer_ids=holders)


async def attribute(session: AsyncSession, batch: IngestBatch, clock: Clock) -> None:
    """Attribute each order of the batch, in order."""
    for position, order in batch.orders.items():
        batch.owed += await attribute_order(
            session=session, batch=batch, order=order, now=clock(), keys=batch.keys[position]
        )
        # The next event reads what this one wrote, not the rows it left in the session.
        await session.flush()
        session.expunge_all()
        batch.outcome.outcomes[ATTRIBUTED] += 1


async def finish(session: AsyncSession, batch: IngestBatch, customers_topic: str) -> None:
    """Write what the batch held back, then stage the events owed."""
    await timeline.write_held_entries(session=session, batch=batch.timeline)
    await repository.add_sightings_seen(session=session, seen=batch.customers.sightings)
    await scoring.write_batch(session=session, batch=batch.scores)
    # Staged once the batch is done: the outbox re-examines what is staged at the end of every
    # flush, which would cost the batch time quadratic in its events.
    for event in batch.owed:
        add_event(session, topic=customers_topic, key=event.subject, event=event)


async def attribute_order(
    *,
    session: AsyncSession,
    batch: IngestBatch,
    order: OrderSnapshot,
    now: datetime,
    keys: Sequence[IdentityKey],
) -> list[CloudEvent[Any]]:
    """Find or create the order's customer, link the order's identities to them and refresh
    their order list and statistics; returns the customer events owed, in publishing order.

    Customers that the order's identities (or its earlier attribution) point at merge into the
    oldest of them; identities shared too widely give merge suggestions instead (see
    `resolution`). A snapshot no newer than the one stored changes nothing. An order keeps the
    customer it was first attributed to, or the survivor that customer merged into.
    """
    policy, state = batch.policy, batch.customers
    stored = (
        await repository.get_order(session=session, order_id=order.order_id)
        if order.order_id in state.orders
        else None
    )
    if is_stale(stored, order):
        return []
    if stored is None and not keys:
        raise NoUsableIdentity(order.order_id)
    shared = await resolution.shared_keys(
        session=session, keys=keys, limit=policy.shared_identity_limit, batch=state
    )
    resolved = await resolution.resolve_order(
        session=session, keys=keys, stored=stored, shared=shared, batch=state
    )
    plan = resolved.plan

    is_new = plan.target is None
    if plan.target is None:
        customer = Customer(customer_id=str(uuid4()), created_at=now, updated_at=now, version=1)
        await repository.add_customer(session=session, customer=customer)
        batch.created(customer.customer_id)
    else:
        customer = resolved.customers[plan.target]
        if await tombstone.absorbed(
            session=session,
            customer=customer,
            stored=stored,
            order=order,
            now=now,
            erasures=batch.erasures,
            scores=batch.scores,
        ):
            state.orders_of.pop(customer.customer_id, None)
            return []

    carried = await plans.carry_out(
        session=session,
        customer=customer,
        resolved=resolved,
        keys=keys,
        actor=merges.SYSTEM,
        order_id=order.order_id,
        now=now,
        policy=policy,
        participants=batch.participants(),
        batch=state,
    )
    if plan.merges:
        batch.merged([customer.customer_id, *(m.merged_id for m in plan.merges)])
    outgoing, new_links = carried.events, carried.links
    # Keys held by another customer stay theirs; the order's contact data here are only the
    # keys that now point at this customer.
    own = set(plan.own)
    row = order_row(order, customer_id=customer.customer_id, own=own, now=now, stored=stored)
    if stored is None:
        repository.add_order(session=session, order=row)
        state.orders.add(row.order_id)
    await addresses.record_order(
        session=session,
        order=order,
        known=stored is not None,
        stored=batch.addresses.get(order.order_id),
    )

    orders, stored_orders = await _orders_of(session, state, customer.customer_id, row)
    profile = compute_profile(orders)
    consent_events, accepts_marketing = await consents.apply_order(
        session=session,
        customer_id=customer.customer_id,
        order=order,
        now=now,
        consentless=batch.consentless,
    )
    # The snapshot's accepts_marketing is the email marketing consent in force, which an
    # explicit decision holds against the order's flag.
    profile = replace(profile, accepts_marketing=accepts_marketing)
    if not is_new:
        # What no order says (a name or email from an import or the shop account) stays.
        kept = {name: getattr(customer, name) for name in _CONTACT if not getattr(profile, name)}
        profile = replace(profile, **kept)
    changed = not is_new and (
        bool(new_links) or bool(plan.merges) or profile != stored_profile(customer)
    )
    names_before = indexing.names_of(customer)
    if is_new or changed:
        _apply(customer, profile)
        await indexing.follow_names(session=session, customer=customer, before=names_before)
    if changed:
        customer.version += 1
        customer.updated_at = now
    identities = await _identities_of(session, state, customer.customer_id)
    await timeline.record_order_event(
        session=session,
        batch=batch.timeline,
        customer_id=customer.customer_id,
        order=order,
        now=now,
        identities=identities,
    )
    await scoring.refresh_in_batch(
        session=session,
        batch=batch.scores,
        customer_ids=[customer.customer_id],
        now=now,
        orders={customer.customer_id: stored_orders},
    )

    if is_new:
        outgoing.append(events.created(customer, identities, attributes=NO_ATTRIBUTES))
    outgoing.extend(events.identity_linked(link) for link in new_links)
    if stored is None:
        outgoing.append(events.order_attributed(row))
    if changed:
        held = await _attributes_of(session, batch, customer.customer_id)
        outgoing.append(events.updated(customer, identities, attributes=held))
    outgoing.extend(consent_events)
    return outgoing


async def _identities_of(
    session: AsyncSession, state: CustomerBatch, customer_id: str
) -> list[CustomerIdentity]:
    if customer_id in state.identities:
        return list(state.identities[customer_id])
    return await repository.identities_of(session=session, customer_id=customer_id)


async def _attributes_of(session: AsyncSession, batch: IngestBatch, customer_id: str) -> Attributes:
    if customer_id not in batch.attributes:
        batch.attributes[customer_id] = await attributes.attributes_of(
            session=session, customer_id=customer_id
        )
    return batch.attributes[customer_id]


async def _orders_of(
    session: AsyncSession, state: CustomerBatch, customer_id: str, row: CustomerOrder
) -> tuple[list[OrderFacts], list[OrderFacts]]:
    """The customer's orders, `row` (just added or updated, theirs now) included: as the
    session shows them (`row` as just set) and as the database holds them (where the ORM did
    not write a value equal to the stored one, the stored form stays: `0` for `0.00`)."""
    held = state.orders_of.get(customer_id)
    if held is None:
        # Not known to the batch (a merge or an erasure changed them): read once more.
        held = {
            facts.order_id: facts
            for facts in await repository.order_facts_of(session=session, customer_id=customer_id)
        }
    else:
        held[row.order_id] = OrderFacts.of(row).settled(held.get(row.order_id))
    shown = {**held, row.order_id: OrderFacts.of(row)}
    return list(shown.values()), list(held.values())


async def _without_identity(
    session: AsyncSession,
    orders: Mapping[int, OrderSnapshot],
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


def is_stale(stored: CustomerOrder | None, order: OrderSnapshot) -> bool:
    """Whether `order` is no newer than the snapshot already stored (same version: same data)."""
    return stored is not None and stored.order_version >= order.version


def order_row(
    order: OrderSnapshot,
    *,
    customer_id: str,
    own: set[IdentityKey],
    now: datetime,
    stored: CustomerOrder | None,
) -> CustomerOrder:
    """The order-list row for `order`: `stored` brought up to date, or a new row."""
    contact = {key.kind: key.value for key in own if key.kind is not IdentityKind.STORE_REF}
    row = stored or CustomerOrder(
        order_id=order.order_id,
        customer_id=customer_id,
        attributed_at=now,
        store_id=order.store_id,
        external_id=order.external_id,
        placed_at=order.placed_at,
        currency=order.currency,
        net_paid=order.net_paid,
        order_version=order.version,
    )
    row.placed_at = order.placed_at
    row.currency = order.currency
    row.net_paid = order.net_paid
    row.cancelled = order.cancelled_at is not None
    row.order_version = order.version
    row.email = contact.get(IdentityKind.EMAIL)
    row.phone = contact.get(IdentityKind.PHONE)
    row.first_name = order.customer.first_name
    row.last_name = order.customer.last_name
    row.accepts_marketing = order.customer.accepts_marketing
    return row


def _apply(customer: Customer, profile: Profile) -> None:
    for name, value in profile.as_dict().items():
        setattr(customer, name, value)
