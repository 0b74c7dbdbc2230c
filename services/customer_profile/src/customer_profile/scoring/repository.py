"""RFM in SQL: the exact batch is set-based (window functions over every store at once); the
incremental refresh scores a few customers against the boundaries the last batch stored."""

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from customer_profile.scoring.incremental import Boundaries, Figures, Scored
from customer_profile.scoring.models import CustomerRfm, RfmBoundaries, ScoringRun
from customer_profile.scoring.rules import LifecycleRules, LifecycleStage

_rfm = SQLModel.metadata.tables["customer_rfm"]
_runs = SQLModel.metadata.tables["scoring_runs"]
_customers = SQLModel.metadata.tables["customers"]

# The batch holds it exclusively; each incremental refresh shares it, so a refresh never
# interleaves with a batch (which would overwrite it with older figures, or deadlock on rows).
_SCORING_LOCK_ID = 7_354_031
BATCH = "batch"
_BATCH_WORK_MEM = "256MB"
INCREMENTAL = "incremental"

# Per customer and store: the orders that count (not cancelled), their number, the last one's
# time, and the sum of net_paid in the currency of the first of them. Merged customers hold no
# orders (a merge moves them), so they have no rows.
_PER_STORE = """
by_currency AS (
    SELECT customer_id, store_id, currency, count(*) AS n, sum(net_paid) AS spent,
           min(placed_at) AS first_at, max(placed_at) AS last_at
    FROM customer_orders
    WHERE NOT cancelled {only}
    GROUP BY customer_id, store_id, currency
),
per_store AS (
    SELECT DISTINCT ON (customer_id, store_id)
           customer_id, store_id, currency,
           (sum(n) OVER pair)::int AS orders_count,
           spent AS monetary,
           max(last_at) OVER pair AS last_order_at
    FROM by_currency
    WINDOW pair AS (PARTITION BY customer_id, store_id)
    ORDER BY customer_id, store_id, first_at, currency
)
"""

# Quintiles by rank: customers with equal values always share a score (ntile would split them
# at random across a boundary), otherwise the same equal-sized fifths as ntile(5).
_SCORE = "1 + (5 * (rank() OVER (s ORDER BY {column}) - 1)) / count(*) OVER s"

_BATCH = f"""
WITH {_PER_STORE.format(only="")}
INSERT INTO customer_rfm (customer_id, store_id, currency, orders_count, monetary,
                          last_order_at, r_score, f_score, m_score, scored_by, scored_at)
SELECT customer_id, store_id, currency, orders_count, monetary, last_order_at,
       {_SCORE.format(column="last_order_at")},
       {_SCORE.format(column="orders_count")},
       {_SCORE.format(column="monetary")},
       '{BATCH}', :now
FROM per_store
WINDOW s AS (PARTITION BY store_id, currency)
"""

_BOUNDARIES = """
INSERT INTO rfm_boundaries (store_id, currency, recency, frequency, monetary, customers,
                            computed_at)
SELECT store_id, currency,
       ARRAY[min(last_order_at) FILTER (WHERE r_score >= 2),
             min(last_order_at) FILTER (WHERE r_score >= 3),
             min(last_order_at) FILTER (WHERE r_score >= 4),
             min(last_order_at) FILTER (WHERE r_score >= 5)],
       ARRAY[min(orders_count) FILTER (WHERE f_score >= 2),
             min(orders_count) FILTER (WHERE f_score >= 3),
             min(orders_count) FILTER (WHERE f_score >= 4),
             min(orders_count) FILTER (WHERE f_score >= 5)],
       ARRAY[min(monetary) FILTER (WHERE m_score >= 2),
             min(monetary) FILTER (WHERE m_score >= 3),
             min(monetary) FILTER (WHERE m_score >= 4),
             min(monetary) FILTER (WHERE m_score >= 5)],
       count(*), :now
FROM customer_rfm
GROUP BY store_id, currency
"""

# A value scores 1 plus the number of boundaries it reaches: for every value present at the
# last batch that is exactly its batch score. No boundaries yet: no score.
_PASSED = "1 + (SELECT count(*) FROM unnest(b.{array}) AS t WHERE t <= p.{column})"

_REFRESH = f"""
WITH {_PER_STORE.format(only="AND customer_id = ANY(:ids)")},
fresh AS (
    SELECT p.*,
           CASE WHEN b.store_id IS NOT NULL
                THEN {_PASSED.format(array="recency", column="last_order_at")} END AS r_score,
           CASE WHEN b.store_id IS NOT NULL
                THEN {_PASSED.format(array="frequency", column="orders_count")} END AS f_score,
           CASE WHEN b.store_id IS NOT NULL
                THEN {_PASSED.format(array="monetary", column="monetary")} END AS m_score
    FROM per_store p
    LEFT JOIN rfm_boundaries b ON b.store_id = p.store_id AND b.currency = p.currency
),
upserted AS (
    INSERT INTO customer_rfm AS r (customer_id, store_id, currency, orders_count, monetary,
                                   last_order_at, r_score, f_score, m_score, scored_by,
                                   scored_at)
    SELECT customer_id, store_id, currency, orders_count, monetary, last_order_at,
           r_score, f_score, m_score, '{INCREMENTAL}', :now
    FROM fresh
    ON CONFLICT (customer_id, store_id) DO UPDATE SET
        currency = excluded.currency, orders_count = excluded.orders_count,
        monetary = excluded.monetary, last_order_at = excluded.last_order_at,
        r_score = excluded.r_score, f_score = excluded.f_score, m_score = excluded.m_score,
        scored_by = excluded.scored_by, scored_at = excluded.scored_at
    WHERE (r.currency, r.orders_count, r.monetary, r.last_order_at,
           r.r_score, r.f_score, r.m_score)
          IS DISTINCT FROM
          (excluded.currency, excluded.orders_count, excluded.monetary, excluded.last_order_at,
           excluded.r_score, excluded.f_score, excluded.m_score)
    RETURNING 1
)
DELETE FROM customer_rfm AS gone
WHERE gone.customer_id = ANY(:ids)
  AND NOT EXISTS (
      SELECT 1 FROM fresh f WHERE f.customer_id = gone.customer_id AND f.store_id = gone.store_id
  )
"""


async def recompute_all(*, session: AsyncSession, now: datetime) -> tuple[int, int]:
    """Score every customer of every store exactly, and store each store's new boundaries;
    returns (stores, customer-store rows). Waits for refreshes in flight, and holds them off
    until the caller's transaction ends."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SCORING_LOCK_ID})
    # The window sorts spill to disk at the default 4 MB; for this transaction only.
    await session.execute(text(f"SET LOCAL work_mem = '{_BATCH_WORK_MEM}'"))
    await session.execute(text("DELETE FROM customer_rfm"))
    await session.execute(text("DELETE FROM rfm_boundaries"))
    scored = await session.execute(text(_BATCH), {"now": now})
    stored = await session.execute(text(_BOUNDARIES), {"now": now})
    return _rowcount(stored), _rowcount(scored)


async def lock_shared(*, session: AsyncSession) -> None:
    """Hold off the exact batch until the caller's transaction ends (refreshes share it)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock_shared(:id)"), {"id": _SCORING_LOCK_ID}
    )


async def boundaries(*, session: AsyncSession) -> dict[tuple[str, str], Boundaries]:
    """Every store's boundaries per currency, from the last batch."""
    rows = await session.execute(select(RfmBoundaries))
    return {
        (row.store_id, row.currency): Boundaries(row.recency, row.frequency, row.monetary)
        for row in rows.scalars()
    }


async def scored_of(
    *, session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, dict[str, Scored]]:
    """The RFM rows of each of `customer_ids`, per store."""
    found: dict[str, dict[str, Scored]] = {customer_id: {} for customer_id in customer_ids}
    if not customer_ids:
        return found
    rows = await session.execute(select(_rfm).where(_rfm.c.customer_id.in_(list(customer_ids))))
    for row in rows:
        found[row.customer_id][row.store_id] = Scored(
            Figures(
                currency=row.currency,
                orders_count=row.orders_count,
                monetary=row.monetary,
                last_order_at=row.last_order_at,
                r_score=row.r_score,
                f_score=row.f_score,
                m_score=row.m_score,
            ),
            row.scored_by,
            row.scored_at,
        )
    return found


async def save_scored(
    *,
    session: AsyncSession,
    rows: Sequence[tuple[str, str, Scored]],
    gone: Sequence[tuple[str, str]],
) -> None:
    """Write each (customer_id, store_id, row) and delete the (customer_id, store_id) rows
    `gone`."""
    if gone:
        await session.execute(
            delete(_rfm).where(tuple_(_rfm.c.customer_id, _rfm.c.store_id).in_(list(gone)))
        )
    if not rows:
        return
    values = [
        {
            "customer_id": customer_id,
            "store_id": store_id,
            **asdict(row.figures),
            "scored_by": row.scored_by,
            "scored_at": row.scored_at,
        }
        for customer_id, store_id, row in rows
    ]
    statement = pg_insert(_rfm).values(values)
    updated = [c.name for c in _rfm.c if c.name not in ("customer_id", "store_id")]
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[_rfm.c.customer_id, _rfm.c.store_id],
            set_={name: statement.excluded[name] for name in updated},
        )
    )


async def refresh(*, session: AsyncSession, customer_ids: Sequence[str], now: datetime) -> None:
    """Bring the RFM rows of `customer_ids` up to date with their orders (the caller's pending
    changes included), scored against the stored boundaries."""
    if not customer_ids:
        return
    await session.flush()
    await lock_shared(session=session)
    await session.execute(text(_REFRESH), {"ids": list(customer_ids), "now": now})


async def rfm_of(*, session: AsyncSession, customer_id: str) -> list[CustomerRfm]:
    rows = await session.execute(
        select(CustomerRfm).where(_rfm.c.customer_id == customer_id).order_by(_rfm.c.store_id)
    )
    return list(rows.scalars())


def add_run(*, session: AsyncSession, run: ScoringRun) -> None:
    session.add(run)


async def last_run_at(*, session: AsyncSession) -> datetime | None:
    """When the newest exact batch finished."""
    found: datetime | None = await session.scalar(select(func.max(_runs.c.finished_at)))
    return found


async def try_nightly_lock(*, session: AsyncSession, lock_id: int) -> bool:
    """Whether this transaction won the right to run the nightly job (one replica at a time)."""
    won = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": lock_id})
    return bool(won)


def stage_condition(
    stage: LifecycleStage, *, rules: LifecycleRules, now: datetime
) -> ColumnElement[bool]:
    """A WHERE clause on `customers` selecting the customers in `stage` at `now`, the same rule
    as `LifecycleRules.stage` (for searching by stage without storing it)."""
    count, first, last = (
        _customers.c.orders_count,
        _customers.c.first_order_at,
        _customers.c.last_order_at,
    )
    prospect = or_(count < 1, first.is_(None), last.is_(None))
    ordered = and_(count >= 1, first.is_not(None), last.is_not(None))
    new = and_(ordered, count <= rules.new_max_orders, first >= now - _days(rules.new_days))
    old = and_(ordered, ~new)
    bounds = {
        LifecycleStage.ACTIVE: (None, rules.active_days),
        LifecycleStage.AT_RISK: (rules.active_days, rules.at_risk_days),
        LifecycleStage.LAPSED: (rules.at_risk_days, rules.lapsed_days),
        LifecycleStage.CHURNED: (rules.lapsed_days, None),
    }
    if stage is LifecycleStage.PROSPECT:
        return prospect
    if stage is LifecycleStage.NEW:
        return new
    after, within = bounds[stage]
    clauses: list[ColumnElement[bool]] = [old]
    if within is not None:
        clauses.append(last >= now - _days(within))
    if after is not None:
        clauses.append(last < now - _days(after))
    return and_(*clauses)


def _days(count: int) -> timedelta:
    return timedelta(days=count)


def _rowcount(result: object) -> int:
    count = getattr(result, "rowcount", 0)
    return int(count) if isinstance(count, int) and count > 0 else 0
