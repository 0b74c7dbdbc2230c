"""Whose an order is: which customers its identities point at, which of them merge, which
identities link, and which identities are too widely shared to do either.

An identity value is shared by as many people as the distinct stronger identities it was seen
with on orders (the emails a phone came with; the emails, else phones, a store_ref came with).
Once that count, this order included, exceeds the policy's limit the value neither links a new
identity nor merges customers: the order resolves by its other identities (or makes a new
customer) and the customer holding the value gets a merge suggestion instead.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers import repository
from customer_profile.customers.identities import IdentityKey, digest, stronger_partner
from customer_profile.customers.models import Customer, CustomerOrder
from customer_profile.customers.state import CustomerBatch

_LOCK_ROUNDS = 5


class ConcurrentMerge(RuntimeError):
    """A customer this order resolves to was merged while its lock was awaited; a retry
    resolves the order again (the consumer retries it)."""


@dataclass(frozen=True, slots=True)
class PlannedMerge:
    survivor_id: str
    merged_id: str
    identity: IdentityKey | None
    """The order's identity that joined them (None when only the order's stored customer did)."""


@dataclass(frozen=True, slots=True)
class PlannedSuggestion:
    holder_id: str
    """The customer holding the shared identity."""
    identity: IdentityKey


@dataclass(frozen=True, slots=True)
class Plan:
    target: str | None
    """The order's customer, None for a new one."""
    merges: tuple[PlannedMerge, ...] = ()
    """Into `target`, oldest merged customer first."""
    links: tuple[IdentityKey, ...] = ()
    """The order's identities nobody holds yet, to link to `target`."""
    suggestions: tuple[PlannedSuggestion, ...] = ()
    own: frozenset[IdentityKey] = frozenset()
    """The order's identities that point at `target` once the plan is carried out."""


def plan_resolution(
    *,
    keys: Sequence[IdentityKey],
    owners: Mapping[IdentityKey, str],
    shared: frozenset[IdentityKey],
    stored_customer: str | None,
    created: Mapping[str, datetime],
) -> Plan:
    """The plan for an order with `keys` (owned as in `owners`), attributed before to
    `stored_customer` if at all; `created` holds each candidate customer's `created_at`.

    Every customer an unshared identity (or the stored attribution) points at is a candidate;
    the oldest (created_at, then id) survives and the others merge into it, in the same order.
    """
    evidence = sorted((k for k in keys if k not in shared), key=lambda k: k.rank)
    joined_by: dict[str, IdentityKey | None] = {}
    if stored_customer is not None:
        joined_by[stored_customer] = None
    for key in evidence:
        owner = owners.get(key)
        if owner is not None and owner not in joined_by:
            joined_by[owner] = key
    links = tuple(k for k in evidence if k not in owners)
    suggestions = _suggestions(keys, owners, shared, absorbed=set(joined_by))
    if not joined_by:
        return Plan(None, links=links, suggestions=suggestions, own=frozenset(links))
    ordered = sorted(joined_by, key=lambda customer_id: (created[customer_id], customer_id))
    target = ordered[0]
    merges = tuple(
        PlannedMerge(target, other, joined_by[other] or joined_by[target]) for other in ordered[1:]
    )
    own = frozenset(links) | {k for k in keys if owners.get(k) in joined_by}
    return Plan(target, merges, links, suggestions, own)


def _suggestions(
    keys: Sequence[IdentityKey],
    owners: Mapping[IdentityKey, str],
    shared: frozenset[IdentityKey],
    *,
    absorbed: set[str],
) -> tuple[PlannedSuggestion, ...]:
    found: dict[tuple[str, IdentityKey], PlannedSuggestion] = {}
    for key in keys:
        holder = owners.get(key)
        if key in shared and holder is not None and holder not in absorbed:
            found.setdefault((holder, key), PlannedSuggestion(holder, key))
    return tuple(found.values())


@dataclass(frozen=True, slots=True)
class Resolved:
    plan: Plan
    customers: dict[str, Customer]
    """Every customer of the plan (target and merged ones), row-locked."""


async def shared_keys(
    *,
    session: AsyncSession,
    keys: Sequence[IdentityKey],
    limit: int,
    batch: CustomerBatch | None = None,
) -> frozenset[IdentityKey]:
    """The keys that, with this order, have been seen with more than `limit` people (within a
    batch of order events: as `batch` knows them)."""
    shared = set()
    for key in keys:
        if key.rank == 0:
            continue  # nothing is stronger than an email: it has no partners to count
        partner = stronger_partner(keys, key)
        identity = digest(key)
        excluding = digest(partner) if partner is not None else None
        known = batch.partners.get(identity) if batch is not None else None
        if known is not None:
            others = min(len(known - {excluding}), limit + 1)
        else:
            others = await repository.count_partners(
                session=session, identity_digest=identity, excluding=excluding, cap=limit + 1
            )
        if others + (partner is not None) > limit:
            shared.add(key)
    return frozenset(shared)


async def record_sightings(
    *,
    session: AsyncSession,
    keys: Sequence[IdentityKey],
    at: datetime,
    batch: CustomerBatch | None = None,
) -> None:
    """Remember which stronger identity each of the order's identities came with (within a
    batch of order events: in `batch`, written at its end)."""
    pairs = []
    for key in keys:
        partner = stronger_partner(keys, key)
        if partner is not None:
            pairs.append((digest(key), digest(partner)))
    if batch is not None and all(identity in batch.partners for identity, _ in pairs):
        batch.see(pairs, at)
    else:
        await repository.add_sightings(session=session, pairs=pairs, at=at)


async def resolve_order(
    *,
    session: AsyncSession,
    keys: Sequence[IdentityKey],
    stored: CustomerOrder | None,
    shared: frozenset[IdentityKey],
    batch: CustomerBatch | None = None,
) -> Resolved:
    """Lock every customer the order points at, then plan with the identities as they are once
    no one else can move them (merges lock both customers first); `batch` holds what a batch of
    order events knows of them."""
    held = batch.locked if batch is not None else set()
    locked: dict[str, Customer] = {}
    owners = batch.owners_of(keys) if batch is not None else None
    if owners is None:
        owners = await repository.identity_owners(session=session, keys=keys)
    for _ in range(_LOCK_ROUNDS):
        wanted = {owners[k] for k in keys if k in owners and k not in shared}
        if stored is not None:
            wanted.add(stored.customer_id)
        missing = sorted(wanted - locked.keys())
        if not missing:
            plan = plan_resolution(
                keys=keys,
                owners=owners,
                shared=shared,
                stored_customer=stored.customer_id if stored is not None else None,
                created={c: locked[c].created_at for c in wanted},
            )
            return Resolved(plan, {c: locked[c] for c in wanted})
        locked |= await repository.lock_customers(session=session, customer_ids=missing)
        for customer_id in missing:
            found = locked.get(customer_id)
            if found is None:
                raise LookupError(f"customer {customer_id} is missing")
            if found.merged_into is not None:
                raise ConcurrentMerge(f"customer {customer_id} was merged meanwhile")
        # Identities pointing at customers this transaction held locked before reading them
        # cannot have moved since; otherwise read them again under the new locks.
        if not set(missing) <= held:
            owners = await repository.identity_owners(session=session, keys=keys)
            if batch is not None:
                batch.reread(keys, owners)
    raise ConcurrentMerge("the order's customers kept changing while they were locked")
