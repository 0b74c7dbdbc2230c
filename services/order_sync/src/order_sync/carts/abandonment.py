"""Deciding, once per checkout, whether it was abandoned or an order followed it."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_common.outbox import add_event
from crm_events.shop_activity import ShopCheckout
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.carts import events, repository
from order_sync.carts.models import Checkout, CheckoutState
from order_sync.carts.rules import CheckoutRefs, order_follows

DECIDED = Counter(
    "order_sync_checkouts_decided_total",
    "Idle checkouts the sweeper decided, by outcome",
    ["outcome"],
)


@dataclass(frozen=True, slots=True)
class Sweep:
    """What one sweep of a batch did."""

    seen: int
    abandoned: int
    converted: int


async def sweep_checkouts(
    *,
    session: AsyncSession,
    now: datetime,
    abandon_after: timedelta,
    limit: int,
    topic: str,
) -> Sweep:
    """Decide up to `limit` open checkouts idle for `abandon_after`: `converted` when an order
    followed (`rules.order_follows`), else `abandoned`, with `crm.checkout.abandoned` staged on
    `topic`. The rows are locked, skipping those another replica is deciding, and leave the
    open state, so each checkout is announced once."""
    due = await repository.lock_idle_checkouts(
        session=session, cutoff=now - abandon_after, limit=limit
    )
    if not due:
        return Sweep(0, 0, 0)
    refs = {checkout.checkout_id: _refs(checkout) for checkout in due}
    orders = await repository.orders_for(session=session, checkouts=list(refs.values()))
    converted = {
        checkout_id
        for checkout_id, checkout in refs.items()
        if any(order_follows(checkout, order) for order in orders)
    }
    abandoned = [checkout for checkout in due if checkout.checkout_id not in converted]
    await repository.set_state(
        session=session, checkout_ids=converted, state=CheckoutState.CONVERTED
    )
    await repository.set_state(
        session=session,
        checkout_ids=[checkout.checkout_id for checkout in abandoned],
        state=CheckoutState.ABANDONED,
        at=now,
    )
    for checkout in abandoned:
        data = events.checkout_snapshot(
            ShopCheckout.model_validate(checkout.body), version=checkout.version
        )
        add_event(
            session,
            topic=topic,
            key=checkout.checkout_id,
            event=events.checkout_abandoned(data, at=now),
        )
    DECIDED.labels("converted").inc(len(converted))
    DECIDED.labels("abandoned").inc(len(abandoned))
    return Sweep(len(due), len(abandoned), len(converted))


def _refs(checkout: Checkout) -> CheckoutRefs:
    return CheckoutRefs(
        store_id=checkout.store_id,
        external_id=checkout.external_id,
        cart_external_id=checkout.cart_external_id,
        customer_external_id=checkout.customer_external_id,
        email=checkout.customer_email,
        started_at=checkout.started_at,
    )
