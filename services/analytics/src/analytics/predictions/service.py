"""A store's lifetime-value fit, from its order facts to a model card and each customer's
predictions: read (`read_history`), compute (`fit_history`, no I/O: run it off the event loop),
store and stage the events (`store_predictions`, `store_card`)."""

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from crm_common.outbox import add_event
from crm_events.insight import ChurnRisk
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.predictions import lifetime, repository
from analytics.predictions.events import customer_predicted
from analytics.predictions.lifetime import Array, Fit
from analytics.predictions.repository import BuyerHistory
from analytics.predictions.schemas import HoldoutRead, HoldoutRow, ModelCardRead, ModelFitRead

TIME_UNIT = "day"
DAYS_A_YEAR = 365.25
# Probability alive at or above which churn risk is low, and below which it is high.
LOW_RISK_FROM = 0.7
HIGH_RISK_BELOW = 0.3
# Fader, Hardie and Lee (2005) compare the holdout by calibration frequency 0 to 7+.
HOLDOUT_GROUPS = 8

Buyer = tuple[str | None, str | None]
"""(customer_id, shop_ref): the attributed customer, or the shop's customer id."""


@dataclass(frozen=True, slots=True)
class StoreHistory:
    """What a fit reads: every buyer's history up to `observed_until`, and for a check of a
    past fit, their purchase days after it up to `checked_until`."""

    store_id: str
    observed_until: datetime
    currency: str
    buyers: list[BuyerHistory]
    checked_until: datetime | None = None
    later_days: dict[Buyer, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Refit:
    """A fit's card, and (for the current fit, when it converged) the customers' predictions
    as `customer_predictions` rows without their versions."""

    card: ModelCardRead
    predictions: list[dict[str, Any]]


async def read_history(
    *, session: AsyncSession, store_id: str, observed_until: datetime, now: datetime
) -> StoreHistory | None:
    """The store's buyers up to `observed_until` (None without any order), and when that is in
    the past, what they bought after it."""
    currency = await repository.store_currency(
        session=session, store_id=store_id, until=observed_until
    )
    if currency is None:
        return None
    buyers = await repository.purchase_histories(
        session=session, store_id=store_id, until=observed_until, currency=currency
    )
    if observed_until >= now:
        return StoreHistory(store_id, observed_until, currency, buyers)
    later = await repository.purchase_days(
        session=session, store_id=store_id, start=observed_until, until=now
    )
    return StoreHistory(store_id, observed_until, currency, buyers, now, later)


def fit_history(
    history: StoreHistory,
    *,
    fitted_at: datetime,
    version: int | None,
    horizon_days: int,
    discount_rate: float,
) -> Refit:
    """Fit BG/NBD, Pareto/NBD and Gamma-Gamma to the store's history; predict each customer's
    future with the likelier count model when the fits converge (the current fit, `version`
    given), or check the fit against the purchases after it (a past one)."""
    started = time.perf_counter()
    buyers = history.buyers
    frequency = np.array([b.frequency for b in buyers], float)
    histories, inverse = lifetime.collapse(
        frequency, [b.recency for b in buyers], [b.age for b in buyers]
    )
    bg = lifetime.fit_counts(lifetime.BgNbd(), histories)
    pareto = lifetime.fit_counts(
        lifetime.ParetoNbd(), histories, start=lifetime.ParetoNbd().start_from(bg, histories)
    )
    spenders = [b for b in buyers if b.spend_days > 0 and (b.mean_spend or 0) > 0]
    spends = lifetime.Spends(
        np.array([b.spend_days for b in spenders], float),
        np.array([float(b.mean_spend or 0) for b in spenders]),
    )
    spend = lifetime.fit_spend(spends)
    counts = [fit for fit in (bg, pareto) if fit.converged]
    chosen = max(counts, key=lambda fit: fit.log_likelihood) if counts else None
    # Gamma-Gamma's mean spend is finite only for q > 1.
    converged = chosen is not None and spend.converged and spend.parameters["q"] > 1
    model: lifetime.CountModel = lifetime.BgNbd()
    if chosen is pareto:
        model = lifetime.ParetoNbd()
    predictions: list[dict[str, Any]] = []
    holdout = None
    if converged and chosen is not None:
        if version is None and history.checked_until is not None:
            holdout = _holdout(history, model, chosen.values(), histories, inverse)
        elif version is not None:
            predictions = _predict(
                history,
                model,
                chosen.values(),
                spend.values(),
                histories,
                inverse,
                horizon_days=horizon_days,
                discount_rate=discount_rate,
                name=f"{chosen.model}+{spend.model}/{version}",
                at=fitted_at,
            )
    card = ModelCardRead(
        store_id=history.store_id,
        version=version,
        fitted_at=fitted_at,
        observed_until=history.observed_until,
        time_unit=TIME_UNIT,
        currency=history.currency,
        customers=len(buyers),
        repeat_customers=int(np.count_nonzero(frequency)),
        converged=converged,
        models=[
            _fit_read(fit, selected=converged and (fit is chosen or fit is spend))
            for fit in (bg, pareto, spend)
        ],
        horizon_days=horizon_days,
        discount_rate=discount_rate,
        fit_seconds=round(time.perf_counter() - started, 3),
        holdout=holdout,
    )
    return Refit(card=card, predictions=predictions)


def _fit_read(fit: Fit, *, selected: bool) -> ModelFitRead:
    return ModelFitRead(
        model=fit.model,
        parameters={name: _finite(value) for name, value in fit.parameters.items()},
        standard_errors={name: _finite(value) for name, value in fit.standard_errors.items()},
        log_likelihood=_finite(fit.log_likelihood),
        customers=fit.customers,
        converged=fit.converged,
        selected=selected,
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _predict(
    history: StoreHistory,
    model: lifetime.CountModel,
    counts: Array,
    spend: Array,
    histories: lifetime.Histories,
    inverse: Any,
    *,
    horizon_days: int,
    discount_rate: float,
    name: str,
    at: datetime,
) -> list[dict[str, Any]]:
    """Each attributed customer's predictions as `customer_predictions` rows: per distinct
    history, spread to the customers sharing it."""
    alive = model.probability_alive(counts, histories)[inverse]
    next_90 = model.expected_purchases(counts, histories, 90.0)[inverse]
    next_365 = model.expected_purchases(counts, histories, 365.0)[inverse]
    over_horizon = model.expected_purchases(counts, histories, float(horizon_days))[inverse]
    daily_rate = (1 + discount_rate) ** (1 / DAYS_A_YEAR) - 1
    discounted = lifetime.discounted_purchases(
        model,
        counts,
        histories,
        horizon=float(horizon_days),
        rate_per_unit=daily_rate,
        # Monthly periods, as a CLV is usually summed.
        steps=max(1, round(horizon_days / 30)),
    )[inverse]
    next_order = lifetime.time_to_purchases(
        model, counts, histories, purchases=1.0, within=float(horizon_days)
    )[inverse]
    buyers = history.buyers
    value = lifetime.GammaGamma().expected_value(
        spend,
        np.array([b.spend_days for b in buyers], float),
        np.array([max(float(b.mean_spend or 0), 0.0) for b in buyers]),
    )
    rows = []
    for i, buyer in enumerate(buyers):
        if buyer.customer_id is None:
            continue
        days = next_order[i]
        rows.append(
            {
                "store_id": history.store_id,
                "customer_id": buyer.customer_id,
                "currency": history.currency,
                "orders": buyer.orders,
                "probability_alive": _places(alive[i], 4),
                "expected_orders_90d": _places(next_90[i], 2),
                "expected_orders_365d": _places(next_365[i], 2),
                "expected_orders_horizon": _places(over_horizon[i], 2),
                "predicted_clv": _places(discounted[i] * value[i], 2),
                "horizon_days": horizon_days,
                "next_order_expected_at": (
                    None
                    if math.isnan(days)
                    else history.observed_until + timedelta(days=math.ceil(days))
                ),
                "churn_risk": churn_risk(float(alive[i])).value,
                "model": name,
                "computed_at": at,
            }
        )
    return rows


def _places(value: float, places: int) -> Decimal:
    return Decimal(f"{max(float(value), 0.0):.{places}f}")


def churn_risk(probability_alive: float) -> ChurnRisk:
    if probability_alive >= LOW_RISK_FROM:
        return ChurnRisk.LOW
    if probability_alive < HIGH_RISK_BELOW:
        return ChurnRisk.HIGH
    return ChurnRisk.MEDIUM


def _holdout(
    history: StoreHistory,
    model: lifetime.CountModel,
    counts: Array,
    histories: lifetime.Histories,
    inverse: Any,
) -> HoldoutRead:
    """Repeat purchases after `observed_until`, actual against predicted, per buyer by their
    repeat purchases before it, as Fader, Hardie and Lee (2005) plot them."""
    assert history.checked_until is not None
    length = (history.checked_until - history.observed_until) / timedelta(days=1)
    predicted = model.expected_purchases(counts, histories, length)[inverse]
    actual = np.array(
        [history.later_days.get((b.customer_id, b.shop_ref), 0) for b in history.buyers], float
    )
    group = np.minimum(np.array([b.frequency for b in history.buyers]), HOLDOUT_GROUPS - 1)
    rows = []
    for g in range(HOLDOUT_GROUPS):
        members = group == g
        if not members.any():
            continue
        rows.append(
            HoldoutRow(
                frequency=str(g) if g < HOLDOUT_GROUPS - 1 else f"{g}+",
                customers=int(members.sum()),
                actual=round(float(actual[members].mean()), 4),
                predicted=round(float(predicted[members].mean()), 4),
            )
        )
    return HoldoutRead(
        start=history.observed_until,
        end=history.checked_until,
        length=round(length, 4),
        customers=len(history.buyers),
        actual=int(actual.sum()),
        predicted=round(float(predicted.sum()), 2),
        by_frequency=rows,
    )


async def store_predictions(
    *, session: AsyncSession, rows: list[dict[str, Any]], topic: str
) -> None:
    """Store the customers' new predictions and stage `crm.customer.predicted` for each, keyed
    by customer, in the caller's transaction."""
    versions = await repository.upsert_predictions(session=session, rows=rows)
    for row in rows:
        event = customer_predicted(row, version=versions[row["customer_id"]])
        add_event(session, topic=topic, key=row["customer_id"], event=event)


async def store_card(*, session: AsyncSession, card: ModelCardRead) -> None:
    """Make `card` the store's current model."""
    assert card.version is not None
    await repository.save_card(
        session=session,
        store_id=card.store_id,
        version=card.version,
        fitted_at=card.fitted_at,
        observed_until=card.observed_until,
        converged=card.converged,
        card=card.model_dump(mode="json"),
    )


async def next_version(*, session: AsyncSession, store_id: str) -> int:
    current = await repository.current_card(session=session, store_id=store_id)
    return 1 if current is None else current.version + 1
