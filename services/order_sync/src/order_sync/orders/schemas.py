from enum import StrEnum

from crm_events.order import OrderSnapshot
from pydantic import BaseModel


class UpsertStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class OrderAccepted(BaseModel):
    """The answer to a submitted order: our id for it and what storing it did."""

    order_id: str
    status: UpsertStatus


class OrderRead(OrderSnapshot):
    """A stored order: the canonical order as last sent, with our id, version and net paid."""
