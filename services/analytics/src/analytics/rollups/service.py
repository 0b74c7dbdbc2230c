"""Keeping the roll-ups in step with the facts, in the facts' transaction: an order version
that replaces the stored one takes its predecessor's entries out and puts its own in; an order
that changes buyer (an attribution, a merge, its undo) has both buyers recounted, and the
whole days, weeks and months whose buyers changed have their figures refreshed."""

from collections.abc import Collection, Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.rollups import repository
from analytics.rollups.buyers import Window, periods_of_days, pieces
from analytics.rollups.entries import OrderEntries, Written


async def share_stores(*, session: AsyncSession, store_ids: Collection[str]) -> None:
    """Keep a rebuild of these stores' roll-ups out until the caller's transaction ends; taken
    before any other lock."""
    await repository.share_stores(session=session, store_ids=store_ids)


async def apply_order_versions(
    *, session: AsyncSession, entries: Mapping[str, OrderEntries], written: Mapping[str, Written]
) -> None:
    """Replace the roll-up contributions of the orders whose facts were just `written`: their
    entries; the histories of their buyers when they moved in them; only their amounts in
    the cohorts when those alone changed (most new versions change neither)."""
    changed = [order_id for order_id in entries if order_id in written]
    if not changed:
        return
    await repository.replace_sales_entries(
        session=session,
        order_ids=changed,
        rows=[row for order_id in changed for row in entries[order_id].sales],
    )
    await repository.replace_line_entries(
        session=session,
        order_ids=changed,
        rows=[row for order_id in changed for row in entries[order_id].lines],
    )
    moved = [order_id for order_id in changed if written[order_id].moved]
    restated = [
        order_id
        for order_id in changed
        if written[order_id].restated and not written[order_id].moved
    ]
    if not moved and not restated:
        return
    recounted = await repository.buyers_of(session=session, order_ids=moved)
    held = await repository.buyers_of(session=session, order_ids=restated)
    await repository.lock_buyers(session=session, buyers=[*recounted, *held])
    await _recount(session=session, buyers=recounted)
    await repository.restate_buyer_orders(session=session, order_ids=restated)


async def recount_buyers(*, session: AsyncSession, order_ids: Collection[str]) -> None:
    """Recount the buyers these orders belong to now and belonged to before."""
    buyers = await repository.buyers_of(session=session, order_ids=order_ids)
    await repository.lock_buyers(session=session, buyers=buyers)
    await _recount(session=session, buyers=buyers)


async def _recount(*, session: AsyncSession, buyers: Sequence[repository.Buyer]) -> None:
    """Recount the buyers (the caller holds them locked), and refresh the figures of the
    periods whose buyers changed."""
    changed = await repository.recount_buyers(session=session, buyers=buyers)
    periods = periods_of_days(changed)
    await repository.refresh_periods(
        session=session,
        periods=periods,
        pieces=pieces([Window(store_id, start, end) for store_id, _, start, end in periods]),
    )


async def rebuild_store(*, session: AsyncSession, store_id: str) -> None:
    """Recount a store's days, months and buyers from its entries and facts, as its time zone
    now has them; every batch touching the store waits meanwhile."""
    await repository.lock_store(session=session, store_id=store_id)
    await repository.rebuild_store_days(session=session, store_id=store_id)
    buyers = await repository.buyers_of_store(session=session, store_id=store_id)
    await repository.lock_buyers(session=session, buyers=buyers)
    await _recount(session=session, buyers=buyers)
