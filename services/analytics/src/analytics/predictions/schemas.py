from datetime import UTC, datetime

from crm_common.envelope import UtcDatetime
from crm_events.insight import ChurnRisk
from pydantic import BaseModel, Field, field_validator

from analytics.kpis.schemas import DecimalString, Instant


class FitRequest(BaseModel):
    """The body of POST /v1/models/clv:fit."""

    store_id: str = Field(min_length=1)
    observed_until: Instant | None = Field(
        default=None,
        description="End of the history fitted (an RFC 3339 date-time or a date, midnight UTC); "
        "default now. A past one fits on the history before it, checks the fit against the "
        "purchases after it, and leaves the current model and predictions as they are.",
    )

    @field_validator("observed_until")
    @classmethod
    def _not_in_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > datetime.now(UTC):
            raise ValueError("`observed_until` must not be in the future")
        return value


class ModelFitRead(BaseModel):
    """One model's maximum-likelihood fit."""

    model: str
    """`bg-nbd`, `pareto-nbd` or `gamma-gamma`."""
    parameters: dict[str, float | None]
    """In the card's `time_unit` (BG/NBD's and Pareto/NBD's `alpha` and `beta`); null when the
    fit found none."""
    standard_errors: dict[str, float | None]
    """From the curvature of the likelihood at its maximum; null where that is not a maximum."""
    log_likelihood: float | None
    customers: int
    """Customers fitted: every buyer for the count models, those with repeat purchases of
    positive value for Gamma-Gamma."""
    converged: bool
    selected: bool
    """The count model the predictions use (the converged one of higher likelihood), or
    Gamma-Gamma when it converged."""


class HoldoutRow(BaseModel):
    """Buyers with one number of repeat purchases before `observed_until` (the last row: that
    many or more), and their repeat purchases after it, per buyer."""

    frequency: str
    customers: int
    actual: float
    predicted: float


class HoldoutRead(BaseModel):
    """The fit's predictions checked against what the buyers did after `observed_until`."""

    start: UtcDatetime
    end: UtcDatetime
    length: float
    """In the card's `time_unit`."""
    customers: int
    actual: int
    """Repeat purchases (distinct days) of the fitted buyers in [start, end)."""
    predicted: float
    by_frequency: list[HoldoutRow]


class ModelCardRead(BaseModel):
    """A store's lifetime-value model: what was fitted, on what, and how well."""

    store_id: str
    version: int | None
    """The current model's version (null for a fit on a past `observed_until`)."""
    fitted_at: UtcDatetime
    observed_until: UtcDatetime
    time_unit: str
    """`day`: purchases are counted per distinct UTC day; parameters are per day."""
    currency: str
    customers: int
    repeat_customers: int
    converged: bool
    """Whether predictions could be made: a count model and Gamma-Gamma converged."""
    models: list[ModelFitRead]
    horizon_days: int
    discount_rate: float
    """Yearly."""
    fit_seconds: float
    holdout: HoldoutRead | None
    """Only for a fit on a past `observed_until`."""


class PredictionRead(BaseModel):
    """A customer's predictions in one store."""

    store_id: str
    currency: str
    orders: int
    """Orders counted (not cancelled) up to the model's `observed_until`."""
    probability_alive: DecimalString
    expected_orders_90d: DecimalString
    expected_orders_365d: DecimalString
    predicted_clv: DecimalString
    """Expected net revenue over `horizon_days`, discounted to `computed_at`."""
    horizon_days: int
    next_order_expected_at: UtcDatetime | None
    """When one more order is expected by; null when not within `horizon_days`."""
    churn_risk: ChurnRisk
    model: str
    computed_at: UtcDatetime
    version: int


class CustomerPredictionsRead(BaseModel):
    customer_id: str
    predictions: list[PredictionRead]
