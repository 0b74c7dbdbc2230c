"""Every query of the lifetime-value models: a store's purchase histories read from the order
facts, the model cards and the customers' predictions."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.predictions.models import ClvModel, CustomerPrediction

_cards = ClvModel.__table__  # type: ignore[attr-defined]
_predictions = CustomerPrediction.__table__  # type: ignore[attr-defined]

# A buyer is the attributed customer, or else the shop's own customer id (as the KPIs count
# them); a purchase is a distinct UTC day with orders that were not cancelled, as the
# literature counts repeat purchases. Spend is what was paid net of refunds, in the store's
# currency only: amounts in different currencies do not average.
_BUYER_DAYS = """
    SELECT customer_id, CASE WHEN customer_id IS NULL THEN customer_ref END AS shop_ref,
           CAST(placed_at AT TIME ZONE 'UTC' AS date) AS day, count(*) AS orders,
           sum(net_paid) FILTER (WHERE currency = :currency) AS spend
    FROM order_facts
    WHERE store_id = :store_id AND placed_at >= :start AND placed_at < :until
      AND cancelled_at IS NULL AND (customer_id IS NOT NULL OR customer_ref IS NOT NULL)
    GROUP BY 1, 2, 3
"""
_HISTORIES = text(
    f"WITH days AS ({_BUYER_DAYS}), "
    "firsts AS (SELECT *, min(day) OVER (PARTITION BY customer_id, shop_ref) AS first_day "
    "FROM days) "
    "SELECT customer_id, shop_ref, count(*) - 1 AS frequency, max(day) - min(day) AS recency, "
    "CAST(:until_day AS date) - min(day) AS age, sum(orders) AS orders, "
    "count(spend) FILTER (WHERE day > first_day) AS spend_days, "
    "avg(spend) FILTER (WHERE day > first_day) AS mean_spend "
    "FROM firsts GROUP BY customer_id, shop_ref"
)
_LATER_PURCHASES = text(
    f"SELECT customer_id, shop_ref, count(*) FROM ({_BUYER_DAYS}) AS days "
    "GROUP BY customer_id, shop_ref"
)
_CURRENCY = text(
    "SELECT currency FROM order_facts WHERE store_id = :store_id AND placed_at < :until "
    "AND cancelled_at IS NULL GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1"
)
# Distinct stores by a skip scan of the (store_id, placed_at) index: one probe per store rather
# than a read of every fact.
_DUE_STORES = text(
    "WITH RECURSIVE stores AS ("
    "(SELECT store_id FROM order_facts ORDER BY store_id LIMIT 1) UNION ALL "
    "SELECT (SELECT f.store_id FROM order_facts AS f WHERE f.store_id > stores.store_id "
    "ORDER BY f.store_id LIMIT 1) FROM stores WHERE stores.store_id IS NOT NULL) "
    "SELECT stores.store_id FROM stores LEFT JOIN clv_models USING (store_id) "
    "WHERE stores.store_id IS NOT NULL "
    "AND (clv_models.fitted_at IS NULL OR clv_models.fitted_at < :since) ORDER BY 1"
)
_PREDICTION_COLUMNS = (
    "store_id",
    "customer_id",
    "currency",
    "orders",
    "probability_alive",
    "expected_orders_90d",
    "expected_orders_365d",
    "expected_orders_horizon",
    "predicted_clv",
    "horizon_days",
    "next_order_expected_at",
    "churn_risk",
    "model",
    "computed_at",
)
_PREDICTION_TYPES = (
    "text",
    "text",
    "text",
    "integer",
    "numeric",
    "numeric",
    "numeric",
    "numeric",
    "numeric",
    "integer",
    "timestamptz",
    "text",
    "text",
    "timestamptz",
)
# Every new prediction of a customer gets the next version, whoever stored the last one.
_UPSERT_PREDICTIONS = text(
    f"INSERT INTO customer_predictions ({', '.join(_PREDICTION_COLUMNS)}, version) "
    "SELECT *, 1 FROM unnest("
    + ", ".join(
        f"CAST(:{c} AS {t}[])" for c, t in zip(_PREDICTION_COLUMNS, _PREDICTION_TYPES, strict=True)
    )
    + ") ON CONFLICT (store_id, customer_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _PREDICTION_COLUMNS[2:])
    + ", version = customer_predictions.version + 1 RETURNING customer_id, version"
)
_LOCK_STORE = text("SELECT pg_try_advisory_lock(:namespace, hashtext(:store_id))")
_UNLOCK_STORE = text("SELECT pg_advisory_unlock(:namespace, hashtext(:store_id))")
# Not the facts' lock namespaces: a refit never waits for an order.
_REFIT_LOCKS = 8_005_003


@dataclass(frozen=True, slots=True)
class BuyerHistory:
    """One buyer's purchases in a store up to the end of observation, in days."""

    customer_id: str | None
    shop_ref: str | None
    frequency: int
    recency: int
    age: int
    orders: int
    spend_days: int
    """Repeat purchase days with spend in the store's currency."""
    mean_spend: Decimal | None
    """Their mean spend; None without any."""


async def store_currency(*, session: AsyncSession, store_id: str, until: datetime) -> str | None:
    """The currency most of the store's orders before `until` are in."""
    result = await session.execute(_CURRENCY, {"store_id": store_id, "until": until})
    currency: str | None = result.scalar()
    return currency


async def purchase_histories(
    *, session: AsyncSession, store_id: str, until: datetime, currency: str
) -> list[BuyerHistory]:
    """Every buyer's history in the store from their first order to `until` (excluded)."""
    rows = await session.execute(
        _HISTORIES,
        {
            "store_id": store_id,
            "start": datetime.min.replace(tzinfo=until.tzinfo),
            "until": until,
            "until_day": until.date(),
            "currency": currency,
        },
    )
    return [BuyerHistory(*row) for row in rows.all()]


async def purchase_days(
    *, session: AsyncSession, store_id: str, start: datetime, until: datetime
) -> dict[tuple[str | None, str | None], int]:
    """The days each buyer ordered on in [start, until), by (customer_id, shop_ref)."""
    rows = await session.execute(
        _LATER_PURCHASES,
        {"store_id": store_id, "start": start, "until": until, "currency": ""},
    )
    return {(customer_id, shop_ref): days for customer_id, shop_ref, days in rows.all()}


async def current_card(*, session: AsyncSession, store_id: str) -> ClvModel | None:
    found = await session.execute(select(ClvModel).where(_cards.c.store_id == store_id))
    return found.scalar_one_or_none()


async def save_card(
    *,
    session: AsyncSession,
    store_id: str,
    version: int,
    fitted_at: datetime,
    observed_until: datetime,
    converged: bool,
    card: dict[str, Any],
) -> None:
    values = {
        "version": version,
        "fitted_at": fitted_at,
        "observed_until": observed_until,
        "converged": converged,
        "card": card,
    }
    await session.execute(
        insert(_cards)
        .values(store_id=store_id, **values)
        .on_conflict_do_update(index_elements=[_cards.c.store_id], set_=values)
    )


async def upsert_predictions(
    *, session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """Store each customer's new prediction; returns the version each got."""
    if not rows:
        return {}
    values = {column: [row[column] for row in rows] for column in _PREDICTION_COLUMNS}
    stored = await session.execute(_UPSERT_PREDICTIONS, values)
    return dict(stored.all())


async def predictions_of(*, session: AsyncSession, customer_id: str) -> list[CustomerPrediction]:
    found = await session.execute(
        select(CustomerPrediction)
        .where(_predictions.c.customer_id == customer_id)
        .order_by(_predictions.c.store_id)
    )
    return list(found.scalars())


async def due_stores(*, session: AsyncSession, since: datetime) -> list[str]:
    """Stores with orders whose current model was fitted before `since`, or never."""
    rows = await session.execute(_DUE_STORES, {"since": since})
    return list(rows.scalars())


async def try_lock_store(*, session: AsyncSession, store_id: str) -> bool:
    """Hold the store's refit for this session (across its transactions), unless another holds
    it: replicas refit side by side, each store once."""
    locked = await session.execute(_LOCK_STORE, {"namespace": _REFIT_LOCKS, "store_id": store_id})
    return bool(locked.scalar())


async def unlock_store(*, session: AsyncSession, store_id: str) -> None:
    await session.execute(_UNLOCK_STORE, {"namespace": _REFIT_LOCKS, "store_id": store_id})
