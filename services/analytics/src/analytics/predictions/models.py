from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, DateTime, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class ClvModel(SQLModel, table=True):
    """A store's current lifetime-value model: the card of its latest fit on all its history."""

    __tablename__ = "clv_models"

    store_id: str = Field(primary_key=True)
    version: int
    """Grows with every fit of the store; part of the `model` its predictions name."""
    fitted_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    observed_until: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    converged: bool
    card: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    """The model card as `GET /v1/models/clv` serves it."""


class CustomerPrediction(SQLModel, table=True):
    """A customer's latest prediction in a store, as last published."""

    __tablename__ = "customer_predictions"

    store_id: str = Field(primary_key=True)
    customer_id: str = Field(primary_key=True, index=True)
    currency: str = Field(max_length=3)
    orders: int
    probability_alive: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    expected_orders_90d: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    expected_orders_365d: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    expected_orders_horizon: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    predicted_clv: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    horizon_days: int
    next_order_expected_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    churn_risk: str
    model: str
    computed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    version: int
    """Grows with every prediction of this customer and store, as the event's `version`."""
