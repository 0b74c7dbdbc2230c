from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from customer_profile.scoring.rules import LifecycleStage, ValueTier


class RfmRead(BaseModel):
    """A customer's RFM in one store: raw values and scores, 1 to 5 (5 best), as quintiles among
    the store's customers in `currency`; scores are null before the store's first batch."""

    store_id: str
    currency: str
    recency_days: int
    """Whole days since the last counted order in the store, as of the read."""
    frequency: int
    """Counted orders in the store."""
    monetary: Decimal
    """Sum of their `net_paid` in `currency`."""
    r: int | None
    f: int | None
    m: int | None
    score: str | None
    """`r`, `f` and `m` as one string, e.g. `545`."""
    scored_by: str
    """`batch` (exact) or `incremental` (against the last batch's boundaries)."""
    scored_at: datetime


class ProfileScores(BaseModel):
    lifecycle_stage: LifecycleStage
    value_tier: ValueTier | None
    rfm: list[RfmRead] = Field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        """The scores as `CustomerRead` fields (models kept, not dumped)."""
        return {
            "lifecycle_stage": self.lifecycle_stage,
            "value_tier": self.value_tier,
            "rfm": self.rfm,
        }


class RecomputeRead(BaseModel):
    """The outcome of one exact batch."""

    run_id: int
    started_at: datetime
    finished_at: datetime
    stores: int
    customers: int
