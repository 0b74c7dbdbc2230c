from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class StockLevel(SQLModel, table=True):
    """Units on hand of one SKU in one store; a SKU is tracked once its level has been set."""

    __tablename__ = "stock_levels"

    store_id: str = Field(
        sa_column=Column(String(64), ForeignKey("stores.store_id"), primary_key=True)
    )
    sku: str = Field(primary_key=True)
    quantity: int
    """Below zero when more was sold than was in stock."""
    low_stock_threshold: int | None = None
    version: int
    """Grows with every change; the version of the last event about this level."""
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class StockMovement(SQLModel, table=True):
    """What one order did to the stock, each at most once: the sale when it was paid, each
    return when it was received (`ref` = the return's key), the cancel. `lines` are the (sku,
    quantity) pairs actually applied, so restocks never give back more than the sale took."""

    __tablename__ = "stock_movements"

    order_id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(primary_key=True, max_length=32)
    ref: str = Field(default="", primary_key=True)
    """The return's key (`crm_events.order_records.record_key`) for a return; "" otherwise."""
    store_id: str = Field(max_length=64)
    lines: list[Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
