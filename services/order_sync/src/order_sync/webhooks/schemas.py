from enum import StrEnum

from pydantic import BaseModel


class Outcome(StrEnum):
    """What became of a delivery."""

    RECEIVED = "received"
    """Authentic, new and of a handled topic: stored, its payload applied in the background
    (then one of the outcomes below)."""
    APPLIED = "applied"
    """It created or changed an order."""
    UNCHANGED = "unchanged"
    """Its order was no newer than the stored one (or said nothing new)."""
    IGNORED = "ignored"
    """A topic order-sync does not handle (yet), or a ping; `detail` says which."""
    DUPLICATE = "duplicate"
    """A delivery already received; nothing was done again."""
    REJECTED = "rejected"
    """Not accepted: unknown store, no secret, wrong platform or a bad signature."""
    FAILED = "failed"
    """Authentic, but its payload could not be mapped; `detail` names what is wrong."""


class DeliveryReceipt(BaseModel):
    """The answer to an accepted delivery."""

    delivery: int
    """Our id of the stored delivery."""
    outcome: Outcome
    order_id: str | None = None
    detail: str | None = None
