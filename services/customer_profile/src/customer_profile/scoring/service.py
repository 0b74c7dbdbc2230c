"""Scoring rules at work: RFM kept current as orders change, recomputed exactly in a batch, and
the scores a profile shows."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers import repository as customers
from customer_profile.customers.models import Customer
from customer_profile.scoring import incremental, repository
from customer_profile.scoring.incremental import Boundaries, CountedOrder, Scored
from customer_profile.scoring.models import CustomerRfm, ScoringRun
from customer_profile.scoring.rules import ScoringRules
from customer_profile.scoring.schemas import ProfileScores, RecomputeRead, RfmRead


@dataclass
class ScoringBatch:
    """The RFM rows of the customers a batch of order events holds row-locked, kept as the
    batch changes them and written at its end (`write_batch`)."""

    locked: bool = False
    """Whether the batch's transaction holds the shared scoring lock (held until it ends)."""
    boundaries: dict[tuple[str, str], Boundaries] | None = None
    """The RFM boundaries per (store, currency), read under the scoring lock."""
    rfm: dict[str, dict[str, Scored]] = field(default_factory=dict)
    """Per customer: its RFM rows per store, as they stand."""
    stored: dict[str, set[str]] = field(default_factory=dict)
    """Per customer of `rfm`: the stores of its rows in the database before the batch."""
    changed: set[tuple[str, str]] = field(default_factory=set)
    """The (customer, store) rows of `rfm` the batch changed."""

    def created(self, customer_id: str) -> None:
        """A customer the batch just created: without RFM rows."""
        self.rfm[customer_id] = {}
        self.stored[customer_id] = set()


async def refresh(
    *, session: AsyncSession, customer_ids: Sequence[str], now: datetime | None = None
) -> None:
    """Re-score the customers whose orders just changed, in the caller's transaction: exact
    figures, scores against their stores' boundaries from the last batch (approximate until the
    next batch moves the boundaries)."""
    ids = list(dict.fromkeys(customer_ids))
    await repository.refresh(session=session, customer_ids=ids, now=now or _now())


async def refresh_in_batch(
    *,
    session: AsyncSession,
    batch: ScoringBatch,
    customer_ids: Sequence[str],
    now: datetime,
    orders: Mapping[str, Sequence[CountedOrder]] | None = None,
) -> None:
    """`refresh` within a batch of order events (customers row-locked by it), from the orders
    in hand (`orders` holds those of some of them) into `batch`: the same figures and scores."""
    ids = list(dict.fromkeys(customer_ids))
    orders = orders or {}
    boundaries = await lock_batch(session=session, batch=batch)
    await load_batch(session=session, batch=batch, customer_ids=ids)
    for customer_id in ids:
        held = orders.get(customer_id)
        if held is None:
            held = await customers.order_facts_of(session=session, customer_id=customer_id)
        current = batch.rfm[customer_id]
        fresh: dict[str, Scored] = {}
        for store_id, figures in incremental.figures(held, boundaries).items():
            kept = current.get(store_id)
            if kept is not None and kept.figures == figures:
                fresh[store_id] = kept
            else:
                fresh[store_id] = Scored(figures, repository.INCREMENTAL, now)
                batch.changed.add((customer_id, store_id))
        batch.rfm[customer_id] = fresh


async def lock_batch(
    *, session: AsyncSession, batch: ScoringBatch
) -> dict[tuple[str, str], Boundaries]:
    """Hold off the exact batch until the batch's transaction ends, then read the boundaries it
    left (which no one can change before then)."""
    if not batch.locked:
        await repository.lock_shared(session=session)
        batch.locked = True
    if batch.boundaries is None:
        batch.boundaries = await repository.boundaries(session=session)
    return batch.boundaries


async def load_batch(
    *, session: AsyncSession, batch: ScoringBatch, customer_ids: Sequence[str]
) -> None:
    """Read the RFM rows of those of `customer_ids` (row-locked by the batch, and under the
    scoring lock) that `batch` does not hold yet."""
    missing = [customer_id for customer_id in customer_ids if customer_id not in batch.rfm]
    for customer_id, rows in (
        await repository.scored_of(session=session, customer_ids=missing)
    ).items():
        batch.rfm[customer_id] = rows
        batch.stored[customer_id] = set(rows)


async def write_batch(*, session: AsyncSession, batch: ScoringBatch) -> None:
    """Write the RFM rows a batch changed, and delete those it left without orders."""
    rows = [
        (customer_id, store_id, batch.rfm[customer_id][store_id])
        for customer_id, store_id in sorted(batch.changed)
        if store_id in batch.rfm[customer_id]
    ]
    gone = [
        (customer_id, store_id)
        for customer_id, stores in sorted(batch.stored.items())
        for store_id in sorted(stores)
        if store_id not in batch.rfm[customer_id]
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
