"""Relaying shop customer accounts to shop.activity.v1: each revision once, newer ones only."""

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from crm_common.outbox import add_event
from crm_events.shop_activity import ShopCustomerUpserted
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.shop_customers import events, repository
from order_sync.shop_customers.models import ShopCustomerRevision


class RelayStatus(StrEnum):
    ANNOUNCED = "announced"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Relayed:
    ref: str
    """The shop customer reference, `<store_id>:<external_id>`: the event's key and subject."""
    status: RelayStatus
    version: int


async def relay_customer(
    *, session: AsyncSession, customer: ShopCustomerUpserted, topic: str
) -> Relayed:
    """Stage `shop.customer.upserted` on `topic` for `customer` unless the last revision
    announced is newer, or is this very one (same time and content): a revision older than the
    last one announced, a duplicate or a replay announces nothing. The store must exist, and
    the account must have an `external_id` (the connectors require one)."""
    external_id = customer.customer.external_id
    if external_id is None:
        raise ValueError("a relayed shop customer needs the shop's id for its key")
    ref = events.customer_ref(customer.store_id, external_id)
    body = events.digest(customer)
    now = datetime.now(UTC)
    existing = await repository.lock_revision(
        session=session, store_id=customer.store_id, external_id=external_id
    )
    if existing is None:
        first = _revision(customer, external_id, body=body, version=1, now=now)
        if await repository.insert_revision(session=session, revision=first):
            return _announce(session, customer, ref=ref, body=body, version=1, topic=topic)
        # A concurrent delivery inserted it first; ours is judged against it.
        existing = await repository.lock_revision(
            session=session, store_id=customer.store_id, external_id=external_id
        )
        if existing is None:
            raise RuntimeError(f"shop customer {ref} vanished while it was being stored")
    # Two revisions of one second (WooCommerce's times have no fraction) that differ are both
    # news; the later-arriving one is the better guess at the account as it is now.
    newer = customer.updated_at > existing.updated_at
    if not (newer or (customer.updated_at == existing.updated_at and body != existing.digest)):
        return Relayed(ref, RelayStatus.UNCHANGED, existing.version)
    version = existing.version + 1
    await repository.replace_revision(
        session=session,
        revision=_revision(customer, external_id, body=body, version=version, now=now),
    )
    return _announce(session, customer, ref=ref, body=body, version=version, topic=topic)


def _announce(
    session: AsyncSession,
    customer: ShopCustomerUpserted,
    *,
    ref: str,
    body: str,
    version: int,
    topic: str,
) -> Relayed:
    event = events.customer_upserted(customer, ref=ref, body=body)
    add_event(session, topic=topic, key=ref, event=event)
    return Relayed(ref, RelayStatus.ANNOUNCED, version)


def _revision(
    customer: ShopCustomerUpserted, external_id: str, *, body: str, version: int, now: datetime
) -> ShopCustomerRevision:
    return ShopCustomerRevision(
        store_id=customer.store_id,
        external_id=external_id,
        updated_at=customer.updated_at,
        digest=body,
        version=version,
        changed_at=now,
    )
