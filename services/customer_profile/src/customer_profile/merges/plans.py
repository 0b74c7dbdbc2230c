"""Carrying out a resolution plan: what orders and contacts both do once a customer is chosen."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers import repository, resolution
from customer_profile.customers.identities import IdentityKey
from customer_profile.customers.models import Customer, CustomerIdentity
from customer_profile.customers.participants import MergeParticipant
from customer_profile.customers.policy import IdentityPolicy
from customer_profile.customers.state import CustomerBatch
from customer_profile.merges import service as merges
from customer_profile.merges import suggestions


@dataclass(frozen=True, slots=True)
class CarriedOut:
    events: list[CloudEvent[Any]]
    """The merges' events, in publishing order."""
    links: list[CustomerIdentity]
    """The identities newly linked to the customer."""


async def carry_out(
    *,
    session: AsyncSession,
    customer: Customer,
    resolved: resolution.Resolved,
    keys: Sequence[IdentityKey],
    actor: str,
    order_id: str | None,
    now: datetime,
    policy: IdentityPolicy,
    participants: Sequence[MergeParticipant] | None = None,
    batch: CustomerBatch | None = None,
) -> CarriedOut:
    """Merge into `customer` (the plan's target, or the one just created for it), suggest the
    merges the shared identities hold back, remember the sightings and link the new identities
    (brought by `order_id`, None for a contact). `participants` replace the policy's where given;
    `batch` is what a batch of order events knows of its customers, kept current."""
    plan = resolved.plan
    outgoing: list[CloudEvent[Any]] = []
    for planned in plan.merges:
        merge = await merges.merge_customers(
            session=session,
            survivor=customer,
            merged=resolved.customers[planned.merged_id],
            actor=actor,
            reason=merges.IDENTITY,
            identity=planned.identity,
            now=now,
            participants=policy.participants if participants is None else participants,
        )
        outgoing.extend(merge.events)
        if batch is not None:
            batch.merged(customer.customer_id, planned.merged_id)
    for suggestion in plan.suggestions:
        await suggestions.suggest(
            session=session,
            customer_ids=(suggestion.holder_id, customer.customer_id),
            identity=suggestion.identity,
            now=now,
        )
    await resolution.record_sightings(session=session, keys=keys, at=now, batch=batch)
    links = [
        repository.identity_row(
            key, customer_id=customer.customer_id, linked_at=now, order_id=order_id
        )
        for key in plan.links
    ]
    for link in links:
        repository.add_identity(session=session, identity=link)
    if batch is not None:
        batch.linked(customer.customer_id, links)
    return CarriedOut(outgoing, links)
