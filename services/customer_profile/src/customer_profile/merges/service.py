"""Merging two customers and undoing a merge; each is one entry of the append-only merge log.

A merge moves every identity and order of the merged customer to the survivor, sets the
survivor's fields by the survivorship rules (`rules.py`), lets the participants (consents, ...)
follow, and marks the merged customer `merged_into` the survivor. Its log entry keeps what moved
and both customers' fields before, which is what an undo puts back.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import uuid4

from crm_common.envelope import CloudEvent
from crm_common.outbox import add_event
from crm_events.customer import IdentityKind
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.attributes import service as attributes
from customer_profile.customers import events as customer_events
from customer_profile.customers import repository as customers
from customer_profile.customers.identities import IdentityKey, resolve
from customer_profile.customers.models import Customer, CustomerOrder
from customer_profile.customers.participants import MergeParticipant
from customer_profile.customers.profile import compute_profile
from customer_profile.merges import events, repository, rules
from customer_profile.merges.exceptions import (
    InvalidMerge,
    MergeConflict,
    MergeNotFound,
    UndoBlocked,
)
from customer_profile.merges.models import MergeLogEntry
from customer_profile.merges.snapshots import (
    identities_json,
    identity_json,
    identity_keys,
)

SYSTEM = "system"
IDENTITY = "identity"
MANUAL = "manual"
UNDO = "undo"


class Outcome(NamedTuple):
    entry: MergeLogEntry
    events: list[CloudEvent[Any]]
    """The events owed, in publishing order."""


async def merge_customers(
    *,
    session: AsyncSession,
    survivor: Customer,
    merged: Customer,
    actor: str,
    reason: str,
    identity: IdentityKey | None = None,
    note: str | None = None,
    now: datetime,
    participants: Sequence[MergeParticipant] = (),
) -> Outcome:
    """Merge `merged` into `survivor` (both row-locked by the caller). The survivor's version is
    left to the caller, which announces it once its whole change is done."""
    merge_id = str(uuid4())
    before = {"survivor": rules.to_snapshot(survivor), "merged": rules.to_snapshot(merged)}
    moved = await customers.identities_of(session=session, customer_id=merged.customer_id)
    moved_keys = [customers.key_of(row) for row in moved]
    order_ids = await repository.order_ids_of(session=session, customer_id=merged.customer_id)
    await repository.move_identities(
        session=session, from_id=merged.customer_id, to_id=survivor.customer_id
    )
    await repository.move_orders(
        session=session, from_id=merged.customer_id, to_id=survivor.customer_id
    )
    orders = await customers.orders_of(session=session, customer_id=survivor.customer_id)
    parties = [rules.party(survivor), rules.party(merged)]
    _set(survivor, rules.survive(parties, compute_profile(orders), has_orders=bool(orders)))
    merged.merged_into = survivor.customer_id

    outgoing: list[CloudEvent[Any]] = []
    for participant in participants:
        outgoing += await participant.merged(
            session=session, survivor=survivor, merged=merged, merge_id=merge_id, now=now
        )
    resolved = await repository.resolve_suggestions_between(
        session=session,
        customer_ids=(survivor.customer_id, merged.customer_id),
        merge_id=merge_id,
        at=now,
        by=actor,
    )
    entry = MergeLogEntry(
        entry_id=merge_id,
        action=repository.MERGE,
        merge_id=merge_id,
        survivor_id=survivor.customer_id,
        merged_id=merged.customer_id,
        at=now,
        actor=actor,
        reason=reason,
        note=note,
        snapshot={
            **before,
            "identity": identity_json(identity) if identity is not None else None,
            "identities": identities_json(moved_keys),
            "orders": order_ids,
            "fields_changed": rules.changes(before["survivor"], rules.to_snapshot(survivor)),
            "suggestions": resolved,
        },
    )
    repository.add_entry(session=session, entry=entry)
    return Outcome(entry, [events.merged(entry, identity), *outgoing])


async def merge_manually(
    *,
    session: AsyncSession,
    survivor_id: str,
    merged_id: str,
    actor: str,
    customers_topic: str,
    note: str | None = None,
    now: datetime | None = None,
    participants: Sequence[MergeParticipant] = (),
) -> Outcome:
    """An admin's merge of `merged_id` into `survivor_id` (the caller's choice of survivor);
    its events are staged in the outbox."""
    now = now or datetime.now(UTC)
    if survivor_id == merged_id:
        raise InvalidMerge("a customer cannot be merged with itself", "merge_with")
    locked = await customers.lock_customers(session=session, customer_ids=[survivor_id, merged_id])
    for customer_id, field in ((survivor_id, "path.customer_id"), (merged_id, "merge_with")):
        found = locked.get(customer_id)
        if found is None:
            raise MergeNotFound(f"customer {customer_id}", field)
        if found.merged_into is not None:
            raise MergeConflict(
                f"customer {customer_id} is already merged into {found.merged_into}",
                field,
                merged_into=found.merged_into,
            )
    survivor = locked[survivor_id]
    outcome = await merge_customers(
        session=session,
        survivor=survivor,
        merged=locked[merged_id],
        actor=actor,
        reason=MANUAL,
        note=note,
        now=now,
        participants=participants,
    )
    outcome.events.append(await _announce(session, survivor, now))
    publish(session=session, topic=customers_topic, events=outcome.events)
    return outcome


async def undo_merge(
    *,
    session: AsyncSession,
    merge_id: str,
    actor: str,
    customers_topic: str,
    note: str | None = None,
    now: datetime | None = None,
    participants: Sequence[MergeParticipant] = (),
) -> Outcome:
    """Put both customers of `merge_id` back as they would be without it; the events are staged
    in the outbox.

    Refused (409, naming them) while later merges of either customer are in effect: those
    built on this one and are undone first, newest first. Orders attributed to the pair during
    or after the merge are attributed again as if it had never happened (`_reattribute`).
    """
    now = now or datetime.now(UTC)
    merge = await repository.get_merge(session=session, merge_id=merge_id)
    if merge is None or merge.seq is None:
        raise MergeNotFound(f"merge {merge_id}", "path.merge_id")
    survivor_id, merged_id = merge.survivor_id, merge.merged_id
    locked = await customers.lock_customers(session=session, customer_ids=[survivor_id, merged_id])
    # Checked under the locks: a merge or undo of these customers committing meanwhile counts.
    undone = await repository.undo_of(session=session, merge_id=merge_id)
    if undone is not None:
        raise MergeConflict(
            f"merge {merge_id} was already undone by {undone.entry_id}",
            "path.merge_id",
            undone_by=undone.entry_id,
        )
    blocking = await repository.later_merges_in_effect(
        session=session, after_seq=merge.seq, customer_ids=[survivor_id, merged_id]
    )
    if blocking:
        raise UndoBlocked(merge_id, blocking)
    if survivor_id not in locked or merged_id not in locked:
        raise MergeConflict(f"a customer of merge {merge_id} no longer exists", "path.merge_id")
    survivor, merged = locked[survivor_id], locked[merged_id]

    snapshot = merge.snapshot
    keys = identity_keys(snapshot["identities"])
    order_ids: list[str] = list(snapshot["orders"])
    await repository.move_identities_back(
        session=session, keys=keys, from_id=survivor_id, to_id=merged_id
    )
    await repository.move_orders_back(
        session=session, order_ids=order_ids, from_id=survivor_id, to_id=merged_id
    )
    reattributed = await _reattribute(session, merge, survivor_id, merged_id)
    before = {"survivor": rules.to_snapshot(survivor), "merged": rules.to_snapshot(merged)}
    for customer, kept in ((merged, snapshot["merged"]), (survivor, snapshot["survivor"])):
        orders = await customers.orders_of(session=session, customer_id=customer.customer_id)
        restored = rules.from_snapshot(kept, customer.customer_id)
        _set(customer, rules.survive([restored], compute_profile(orders), has_orders=bool(orders)))
    merged.merged_into = None
    await repository.reopen_suggestions(session=session, merge_id=merge_id)

    outgoing: list[CloudEvent[Any]] = []
    for participant in participants:
        outgoing += await participant.unmerged(
            session=session, survivor=survivor, merged=merged, merge_id=merge_id, now=now
        )
    back = await customers.identities_of(session=session, customer_id=merged_id)
    back_keys = [customers.key_of(row) for row in back]
    back_orders = await repository.order_ids_of(session=session, customer_id=merged_id)
    undo = MergeLogEntry(
        entry_id=str(uuid4()),
        action=repository.UNDO,
        merge_id=merge_id,
        survivor_id=survivor_id,
        merged_id=merged_id,
        at=now,
        actor=actor,
        reason=UNDO,
        note=note,
        snapshot={
            "identities": identities_json(back_keys),
            "orders": back_orders,
            "orders_reattributed": reattributed,
            "fields_changed": {
                "survivor": rules.changes(before["survivor"], rules.to_snapshot(survivor)),
                "merged": rules.changes(before["merged"], rules.to_snapshot(merged)),
            },
        },
    )
    repository.add_entry(session=session, entry=undo)
    announced = [events.unmerged(undo, back_keys, back_orders)]
    announced += [customer_events.identity_linked(row) for row in back]
    for order in await customers.orders_of(session=session, customer_id=merged_id):
        announced.append(customer_events.order_attributed(order))
    announced += outgoing
    announced.append(await _announce(session, merged, now))
    announced.append(await _announce(session, survivor, now))
    publish(session=session, topic=customers_topic, events=announced)
    return Outcome(undo, announced)


async def _reattribute(
    session: AsyncSession, merge: MergeLogEntry, survivor_id: str, merged_id: str
) -> list[str]:
    """Attribute the orders that reached the pair during or after `merge` (all held by the
    survivor) as if it had never happened: each to whichever of the two its identities name by
    the usual precedence (`identities.resolve`), else the survivor still; returns those that
    go to the merged customer, which take along the identities they linked.

    The orders are replayed in attribution order, so an identity an order linked counts for the
    later ones where that order went, and not for the order itself (without the merge, it
    would have been linked to whoever the order's other identities named).
    """
    later = await repository.orders_attributed_since(
        session=session, customer_id=survivor_id, since=merge.at
    )
    if not later:
        return []
    links = await repository.identities_linked_by(
        session=session,
        customer_id=survivor_id,
        order_ids=[order.order_id for order in later],
        since=merge.at,
    )
    linked_by: dict[str, list[IdentityKey]] = {}
    for row in links:
        if row.order_id is not None:
            linked_by.setdefault(row.order_id, []).append(customers.key_of(row))
    carried = {order.order_id: _contact_keys(order) for order in later}
    owners = await customers.identity_owners(
        session=session, keys=list({key for keys in carried.values() for key in keys})
    )
    pair = (survivor_id, merged_id)
    moved: list[str] = []
    for order in later:
        keys, own_links = carried[order.order_id], linked_by.get(order.order_id, [])
        named = {k: owners[k] for k in keys if owners.get(k) in pair and k not in own_links}
        target = resolve(keys, named) or survivor_id
        if target == merged_id:
            moved.append(order.order_id)
            owners.update(dict.fromkeys(own_links, merged_id))
        # As `order_row` keeps them: the order's contact data are the identities naming its
        # customer, so the other one's phone does not become this one's.
        if order.email and owners.get(IdentityKey(IdentityKind.EMAIL, order.email)) != target:
            order.email = None
        if order.phone and owners.get(IdentityKey(IdentityKind.PHONE, order.phone)) != target:
            order.phone = None
    await repository.move_orders_back(
        session=session, order_ids=moved, from_id=survivor_id, to_id=merged_id
    )
    await repository.move_identities_back(
        session=session,
        keys=[key for order_id in moved for key in linked_by.get(order_id, [])],
        from_id=survivor_id,
        to_id=merged_id,
    )
    return moved


def _contact_keys(order: CustomerOrder) -> list[IdentityKey]:
    """The email and phone identities an order came with that named its customer (the store
    reference is not kept on the order)."""
    keys = []
    if order.email:
        keys.append(IdentityKey(IdentityKind.EMAIL, order.email))
    if order.phone:
        keys.append(IdentityKey(IdentityKind.PHONE, order.phone))
    return keys


def publish(*, session: AsyncSession, topic: str, events: Sequence[CloudEvent[Any]]) -> None:
    """Stage `events` in the outbox, each keyed by its subject (the customer it is about)."""
    for event in events:
        add_event(session, topic=topic, key=event.subject, event=event)


async def merge_entry(*, session: AsyncSession, merge_id: str) -> MergeLogEntry:
    """The log entry of one merge, or a 404 problem."""
    entry = await repository.get_merge(session=session, merge_id=merge_id)
    if entry is None:
        raise MergeNotFound(f"merge {merge_id}", "path.merge_id")
    return entry


async def log_page(
    *, session: AsyncSession, customer_id: str | None, after_seq: int, limit: int
) -> tuple[list[MergeLogEntry], dict[str, str]]:
    """Log entries after `after_seq`, oldest first, and the undo entry id of each merge undone."""
    entries = await repository.log_page(
        session=session, customer_id=customer_id, after_seq=after_seq, limit=limit
    )
    undone = await repository.undos_of(
        session=session,
        merge_ids=[e.merge_id for e in entries if e.action == repository.MERGE],
    )
    return entries, undone


async def undone_by(*, session: AsyncSession, merge_id: str) -> str | None:
    undo = await repository.undo_of(session=session, merge_id=merge_id)
    return undo.entry_id if undo is not None else None


async def _announce(session: AsyncSession, customer: Customer, now: datetime) -> CloudEvent[Any]:
    customer.version += 1
    customer.updated_at = now
    identities = await customers.identities_of(session=session, customer_id=customer.customer_id)
    held = await attributes.attributes_of(session=session, customer_id=customer.customer_id)
    return customer_events.updated(customer, identities, attributes=held)


def _set(customer: Customer, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(customer, name, value)
