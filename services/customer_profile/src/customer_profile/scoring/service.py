"""Scoring rules at work: RFM kept current as orders change, recomputed exactly in a batch, and
the scores a profile shows."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers import repository as customers
from customer_profile.customers.memo import BatchMemo, memo_of
from customer_profile.customers.models import Customer
from customer_profile.scoring import incremental, repository
from customer_profile.scoring.incremental import Boundaries, CountedOrder, Scored
from customer_profile.scoring.models import CustomerRfm, ScoringRun
from customer_profile.scoring.rules import ScoringRules
from customer_profile.scoring.schemas import ProfileScores, RecomputeRead, RfmRead


async def refresh(
    *,
    session: AsyncSession,
    customer_ids: Sequence[str],
    now: datetime | None = None,
    orders: Mapping[str, Sequence[CountedOrder]] | None = None,
) -> None:
    """Re-score the customers whose orders just changed, in the caller's transaction: exact
    figures, scores against their stores' boundaries from the last batch (approximate until the
    next batch moves the boundaries). `orders` holds the orders of some of them, when the
    caller has them.

    Within a batch of order events (customers row-locked by it) the rows are kept in the
    batch's memo and written at its end (`write_batch`)."""
    ids = list(dict.fromkeys(customer_ids))
    memo = memo_of(session)
    if memo is None:
        await repository.refresh(session=session, customer_ids=ids, now=now or _now())
        return
    await _in_memo(session, memo, ids, now=now or _now(), orders=orders or {})


async def _in_memo(
    session: AsyncSession,
    memo: BatchMemo,
    customer_ids: Sequence[str],
    *,
    now: datetime,
    orders: Mapping[str, Sequence[CountedOrder]],
) -> None:
    boundaries = await lock_batch(session=session, memo=memo)
    await load_batch(session=session, memo=memo, customer_ids=customer_ids)
    for customer_id in customer_ids:
        held = orders.get(customer_id)
        if held is None:
            held = await customers.order_facts_of(session=session, customer_id=customer_id)
        current = memo.rfm[customer_id]
        fresh: dict[str, Scored] = {}
        for store_id, figures in incremental.figures(held, boundaries).items():
            kept = current.get(store_id)
            if kept is not None and kept.figures == figures:
                fresh[store_id] = kept
            else:
                fresh[store_id] = Scored(figures, repository.INCREMENTAL, now)
                memo.rfm_changed.add((customer_id, store_id))
        memo.rfm[customer_id] = fresh


async def lock_batch(
    *, session: AsyncSession, memo: BatchMemo
) -> dict[tuple[str, str], Boundaries]:
    """Hold off the exact batch until the batch's transaction ends, then read the boundaries it
    left (which no one can change before then)."""
    if not memo.scoring_locked:
        await repository.lock_shared(session=session)
        memo.scoring_locked = True
    if memo.boundaries is None:
        memo.boundaries = await repository.boundaries(session=session)
    return memo.boundaries


async def load_batch(
    *, session: AsyncSession, memo: BatchMemo, customer_ids: Sequence[str]
) -> None:
    """Read the RFM rows of those of `customer_ids` (row-locked by the batch, and under the
    scoring lock) that the memo does not hold yet."""
    missing = [customer_id for customer_id in customer_ids if customer_id not in memo.rfm]
    for customer_id, rows in (
        await repository.scored_of(session=session, customer_ids=missing)
    ).items():
        memo.rfm[customer_id] = rows
        memo.rfm_stored[customer_id] = set(rows)


async def write_batch(*, session: AsyncSession, memo: BatchMemo) -> None:
    """Write the RFM rows a batch changed, and delete those it left without orders."""
    rows = [
        (customer_id, store_id, memo.rfm[customer_id][store_id])
        for customer_id, store_id in sorted(memo.rfm_changed)
        if store_id in memo.rfm[customer_id]
    ]
    gone = [
        (customer_id, store_id)
        for customer_id, stores in sorted(memo.rfm_stored.items())
        for store_id in sorted(stores)
        if store_id not in memo.rfm[customer_id]
    ]
    await repository.save_scored(session=session, rows=rows, gone=gone)


async def recompute(*, session: AsyncSession, now: datetime | None = None) -> RecomputeRead:
    """Score every customer of every store exactly (quintiles per store and currency) and store
    the boundaries the incremental refresh scores against until the next batch."""
    started = now or _now()
    stores, customers = await repository.recompute_all(session=session, now=started)
    run = ScoringRun(started_at=started, finished_at=_now(), stores=stores, customers=customers)
    repository.add_run(session=session, run=run)
    await session.flush()
    return RecomputeRead.model_validate(run, from_attributes=True)


async def profile_scores(
    *, session: AsyncSession, customer: Customer, rules: ScoringRules, now: datetime | None = None
) -> ProfileScores:
    """The lifecycle stage and value tier of `customer` at `now`, and their RFM per store."""
    now = now or _now()
    rows = await repository.rfm_of(session=session, customer_id=customer.customer_id)
    return ProfileScores(
        lifecycle_stage=rules.lifecycle.stage(
            orders_count=customer.orders_count,
            first_order_at=customer.first_order_at,
            last_order_at=customer.last_order_at,
            now=now,
        ),
        value_tier=rules.tiers.tier(
            orders_count=customer.orders_count,
            total_spent=customer.total_spent,
            currency=customer.currency,
        ),
        rfm=[rfm_read(row, now=now) for row in rows],
    )


def rfm_read(row: CustomerRfm, *, now: datetime) -> RfmRead:
    scores = (row.r_score, row.f_score, row.m_score)
    return RfmRead(
        store_id=row.store_id,
        currency=row.currency,
        recency_days=max((now - row.last_order_at).days, 0),
        frequency=row.orders_count,
        monetary=row.monetary,
        r=row.r_score,
        f=row.f_score,
        m=row.m_score,
        score="".join(str(s) for s in scores) if None not in scores else None,
        scored_by=row.scored_by,
        scored_at=row.scored_at,
    )


def _now() -> datetime:
    return datetime.now(UTC)
