from datetime import datetime
from typing import Any

from pydantic import BaseModel

from customer_profile.timeline.models import TimelineEntry


class TimelineEntryRead(BaseModel):
    entry_id: str
    occurred_at: datetime
    kind: str
    """`order.placed`, `order.paid`, ..., `ticket.created`, `message.opened`, `product.viewed`:
    the event type without its `crm.`/`shop.` prefix."""
    source: str
    """The service (or `shop/<store>`) that reported it."""
    summary: dict[str, Any]
    """A few facts (amounts as decimal strings, statuses, channel, ...); never contact data."""
    reference: dict[str, str]
    """What it is about: `order_id`, `ticket_id`, `message_id`, `cart_id`, ..."""

    @classmethod
    def of(cls, entry: TimelineEntry) -> "TimelineEntryRead":
        return cls(
            entry_id=str(entry.entry_id),
            occurred_at=entry.occurred_at,
            kind=entry.kind,
            source=entry.source,
            summary=entry.summary,
            reference=entry.reference,
        )


class TimelinePage(BaseModel):
    items: list[TimelineEntryRead]
    next_cursor: str | None
    """Pass as `cursor` for the next (older) page; null on the last page."""
