"""Keeping the order facts in step with order-sync's orders and customer-profile's attributions.

Orders and customer events arrive on different topics, in any order and at least once, and
replicas apply them concurrently. Every write that decides an order's customer first takes
transaction-scoped locks on the order and on the customers involved, so an attribution, a merge
and the order's own arrival never miss each other's uncommitted rows.
"""

import logging
from typing import Any

from crm_common.envelope import CloudEvent
from crm_common.idempotency import first_delivery
from crm_events.customer import CustomerMerged, CustomerOrderAttributed, CustomerUnmerged
from crm_events.order import OrderSnapshot
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.facts import events, repository

logger = logging.getLogger(__name__)

CUSTOMERS_CONSUMER = "analytics.facts.customers"


async def apply_order_event(*, session: AsyncSession, event: CloudEvent[dict[str, Any]]) -> None:
    """Store the order snapshot of a crm.order.* event unless a newer version is stored.

    The version guard makes redeliveries and stale arrivals harmless, so no event id is kept.
    """
    if not event.type.startswith(events.ORDER_EVENT_PREFIX):
        return
    snapshot = OrderSnapshot.model_validate(event.data)
    await repository.lock_order(session=session, order_id=snapshot.order_id)
    customer_id = await repository.attributed_customer(session=session, order_id=snapshot.order_id)
    if customer_id is not None:
        customer_id = await _lock_survivor(session=session, customer_id=customer_id)
    await repository.upsert_fact_if_newer(
        session=session, fact=events.order_fact(snapshot, customer_id=customer_id)
    )


async def apply_customer_event(*, session: AsyncSession, event: CloudEvent[dict[str, Any]]) -> None:
    """Apply an attribution, a merge or its undo once; other customer events carry nothing
    analytics keeps.

    `crm.customer.erased` needs nothing either: no personal data is stored here, and customer
    ids are pseudonymous, so the erased customer's orders stay in the totals.
    """
    if event.type not in events.CUSTOMER_EVENTS_APPLIED:
        return
    if not await first_delivery(session, consumer=CUSTOMERS_CONSUMER, event_id=event.id):
        return
    if event.type == events.ORDER_ATTRIBUTED:
        attributed = CustomerOrderAttributed.model_validate(event.data)
        await attribute_order(session=session, attributed=attributed, event=event)
    elif event.type == events.CUSTOMER_MERGED:
        await merge_customers(session=session, merged=CustomerMerged.model_validate(event.data))
    else:
        unmerged = CustomerUnmerged.model_validate(event.data)
        await unmerge_customers(session=session, unmerged=unmerged, event=event)


async def attribute_order(
    *,
    session: AsyncSession,
    attributed: CustomerOrderAttributed,
    event: CloudEvent[dict[str, Any]],
) -> None:
    """Give the order its customer (a merged one counts for its survivor), stored or not yet."""
    await repository.lock_order(session=session, order_id=attributed.order_id)
    customer_id = await _lock_survivor(session=session, customer_id=attributed.customer_id)
    # The contract carries no attribution time, so the envelope's time orders re-attributions.
    attribution = events.order_attribution(attributed, customer_id=customer_id, at=event.time)
    if await repository.upsert_attribution_if_newer(session=session, attribution=attribution):
        await repository.set_fact_customer(
            session=session, order_id=attributed.order_id, customer_id=customer_id
        )


async def merge_customers(*, session: AsyncSession, merged: CustomerMerged) -> None:
    """Re-point every fact and attribution of the merged customer to the survivor, and remember
    the merge for later mentions of the merged id."""
    for customer_id in sorted({merged.merged_id, merged.survivor_id}):
        await repository.lock_customer(session=session, customer_id=customer_id)
    survivor_id = await _lock_survivor(session=session, customer_id=merged.survivor_id)
    if survivor_id == merged.merged_id:
        logger.warning(
            "merge ignored: its survivor was itself merged into the merged customer",
            extra={"merge_id": merged.merge_id, "merged_id": merged.merged_id},
        )
        return
    # The survivor as named (its own merges are followed on every read), so that undoing a
    # later merge of the survivor leaves this one in effect.
    await repository.record_merge(
        session=session,
        merged_id=merged.merged_id,
        survivor_id=merged.survivor_id,
        at=merged.merged_at,
    )
    await repository.repoint_customer(session=session, old_id=merged.merged_id, new_id=survivor_id)


async def unmerge_customers(
    *,
    session: AsyncSession,
    unmerged: CustomerUnmerged,
    event: CloudEvent[dict[str, Any]],
) -> None:
    """Undo a merge as the event describes it: the merged customer stands for itself again
    (with the customers merged into it before), and `order_ids` go back to it.

    An order attributed anew after the undo (by envelope time) keeps that attribution. Orders
    are locked before customers, as an order's own arrival and its attribution lock them, so
    neither can store a customer read before the undo committed.
    """
    await repository.lock_orders(session=session, order_ids=unmerged.order_ids)
    for customer_id in sorted({unmerged.merged_id, unmerged.survivor_id}):
        await repository.lock_customer(session=session, customer_id=customer_id)
    await repository.forget_merge(session=session, merged_id=unmerged.merged_id)
    customer_id = await _lock_survivor(session=session, customer_id=unmerged.merged_id)
    await repository.reattribute(
        session=session, order_ids=unmerged.order_ids, customer_id=customer_id, not_after=event.time
    )


async def _lock_survivor(*, session: AsyncSession, customer_id: str) -> str:
    """Lock `customer_id`, follow it through merges (locking each step) and return the customer
    it now stands for; a merge committed while we waited for a lock is seen on the next step."""
    seen = {customer_id}
    current = customer_id
    while True:
        await repository.lock_customer(session=session, customer_id=current)
        survivor = await repository.survivor_of(session=session, customer_id=current)
        if survivor is None or survivor in seen:
            return current
        seen.add(survivor)
        current = survivor
