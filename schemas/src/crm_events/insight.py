"""Predictions that analytics publishes on `crm.insights.v1`.

One event per customer and store whenever analytics scores them again (after each of their
orders, and nightly as time passes), carrying the whole prediction; `version` grows with every
new one: keep the highest. The key (and CloudEvent `subject`) is the customer id. Probabilities
are decimal strings between 0 and 1, money a decimal string beside its currency.
"""

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from crm_common.contracts import EventContract
from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema

from crm_events._base import ContractModel
from crm_events.topics import CRM_INSIGHTS
from crm_events.types import Currency, Money, NonEmptyStr, UtcDatetime

__all__ = [
    "CUSTOMER_PREDICTED",
    "INSIGHT_CONTRACTS",
    "PROBABILITY_PATTERN",
    "ChurnRisk",
    "CustomerPredicted",
    "Probability",
    "RfmScores",
]

PROBABILITY_PATTERN = r"^(0(\.\d+)?|1(\.0+)?)$"
_PROBABILITY = re.compile(PROBABILITY_PATTERN)


def _to_probability(value: Any) -> Decimal:
    text = format(value, "f") if isinstance(value, Decimal) else value
    if not isinstance(text, str) or not _PROBABILITY.fullmatch(text):
        raise ValueError("a probability is a decimal string from 0 to 1, such as '0.87'")
    return Decimal(text)


Probability = Annotated[
    Decimal,
    PlainValidator(_to_probability),
    PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": PROBABILITY_PATTERN}),
]
"""A probability as a decimal string from 0 to 1 (`"0.87"`), never a float."""


class ChurnRisk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RfmScores(ContractModel):
    """Quintile scores within the store, 5 the best, and the named cell they fall in."""

    recency: int = Field(ge=1, le=5)
    frequency: int = Field(ge=1, le=5)
    monetary: int = Field(ge=1, le=5)
    cell: NonEmptyStr
    """champions, loyal, potential_loyalists, new, promising, need_attention, about_to_sleep,
    at_risk, cannot_lose, hibernating or lost."""


class CustomerPredicted(ContractModel):
    """analytics scored a customer of a store again."""

    customer_id: NonEmptyStr
    """customer-profile's id: the Kafka key and CloudEvent subject."""
    store_id: NonEmptyStr
    currency: Currency
    orders: int = Field(ge=0)
    """Orders counted so far (not cancelled)."""
    predicted_clv: Money
    """Expected net revenue over `horizon_days` from now."""
    expected_orders: Money
    """Expected number of orders over `horizon_days` (a decimal string)."""
    horizon_days: int = Field(ge=1)
    probability_alive: Probability
    """The probability that the customer still buys at all."""
    churn_risk: ChurnRisk
    next_order_expected_at: UtcDatetime | None = None
    """Null when no further order is expected."""
    rfm: RfmScores | None = None
    model: NonEmptyStr
    """The model and its version, e.g. `bg-nbd+gamma-gamma/2026-11`."""
    computed_at: UtcDatetime
    version: int = Field(ge=1)
    """Grows with every prediction of this customer and store."""


CUSTOMER_PREDICTED = EventContract(
    type="crm.customer.predicted",
    version=1,
    domain="insight",
    model=CustomerPredicted,
    topic=CRM_INSIGHTS,
    example={
        "customer_id": "7f3c1b9e-2d4a-4c6b-8e0f-1a2b3c4d5e6f",
        "store_id": "demo",
        "currency": "USD",
        "orders": 3,
        "predicted_clv": "118.40",
        "expected_orders": "2.31",
        "horizon_days": 365,
        "probability_alive": "0.87",
        "churn_risk": "low",
        "next_order_expected_at": "2026-12-18T00:00:00Z",
        "rfm": {"recency": 5, "frequency": 4, "monetary": 4, "cell": "loyal"},
        "model": "bg-nbd+gamma-gamma/2026-11",
        "computed_at": "2026-11-05T02:00:00Z",
        "version": 4,
    },
    key="customer_id",
    source="analytics",
)

INSIGHT_CONTRACTS: tuple[EventContract[Any], ...] = (CUSTOMER_PREDICTED,)
