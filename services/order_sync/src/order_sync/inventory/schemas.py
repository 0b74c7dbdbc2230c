from datetime import datetime
from typing import Annotated

from crm_common.http import Int32, Text
from pydantic import BaseModel, ConfigDict, Field

from order_sync.inventory.rules import is_low


class StockLevelSet(BaseModel):
    """A stock count: the quantity on hand now. Leaving `low_stock_threshold` out keeps the one
    set before; null removes it."""

    model_config = ConfigDict(extra="forbid")

    store_id: Text | None = Field(default=None, min_length=1, max_length=64)
    """Optional here when the query names the store; the two must agree."""
    quantity: Annotated[Int32, Field(ge=0)]
    low_stock_threshold: Annotated[Int32, Field(ge=0)] | None = None


class StockLevelRead(BaseModel):
    store_id: str
    sku: str
    quantity: int
    """Below zero when more was sold than was in stock."""
    low_stock_threshold: int | None
    low_stock: bool
    """At or below the threshold."""
    oversold: bool
    """Below zero."""
    version: int
    updated_at: datetime

    @classmethod
    def of(
        cls,
        *,
        store_id: str,
        sku: str,
        quantity: int,
        low_stock_threshold: int | None,
        version: int,
        updated_at: datetime,
    ) -> "StockLevelRead":
        return cls(
            store_id=store_id,
            sku=sku,
            quantity=quantity,
            low_stock_threshold=low_stock_threshold,
            low_stock=is_low(quantity, low_stock_threshold),
            oversold=quantity < 0,
            version=version,
            updated_at=updated_at,
        )


class StockPage(BaseModel):
    """A store's levels by SKU; pass `next_cursor` as `cursor` for the next page (null at the
    end)."""

    levels: list[StockLevelRead]
    next_cursor: str | None
