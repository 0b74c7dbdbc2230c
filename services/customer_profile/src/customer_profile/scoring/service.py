"""Scoring rules at work: RFM kept current as orders change, recomputed exactly in a batch, and
the scores a profile shows."""

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.customers.models import Customer
from customer_profile.scoring import repository
from customer_profile.scoring.models import CustomerRfm, ScoringRun
from customer_profile.scoring.rules import ScoringRules
from customer_profile.scoring.schemas import ProfileScores, RecomputeRead, RfmRead


async def refresh(
    *, session: AsyncSession, customer_ids: Sequence[str], now: datetime | None = None
) -> None:
    """Re-score the customers whose orders just changed, in the caller's transaction: exact
    figures, scores against their stores' boundaries from the last batch (approximate until the
    next batch moves the boundaries)."""
    await repository.refresh(
        session=session, customer_ids=list(dict.fromkeys(customer_ids)), now=now or _now()
    )


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
