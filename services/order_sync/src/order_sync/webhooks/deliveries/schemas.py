from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from order_sync.webhooks.schemas import Outcome


class BodyState(StrEnum):
    KEPT = "kept"
    """The exact bytes received are stored: the delivery can be read and replayed."""
    NOT_KEPT = "not_kept"
    """A rejected delivery: its bytes were never stored (anyone can send them)."""
    PURGED = "purged"
    """The retention task removed the body (`body_purged_at`); the record stays."""


class DeliveryFilters(BaseModel):
    """What `GET /v1/webhooks/deliveries` is filtered by; each one optional, combined with AND."""

    store_id: str | None = None
    platform: str | None = None
    topic: str | None = None
    outcome: Outcome | None = None


class DeliverySummary(BaseModel):
    """A stored delivery without its body."""

    id: int
    """Our id of the delivery (`delivery` in the receiver's answer)."""
    platform: str
    store_id: str
    topic: str | None
    delivery_id: str | None
    """The platform's id of the delivery."""
    outcome: Outcome
    detail: str | None
    order_id: str | None
    received_at: datetime
    body_sha256: str
    """SHA-256 of the bytes received, kept even when the body is not."""
    body_state: BodyState
    body_purged_at: datetime | None


class DeliveryPage(BaseModel):
    """Deliveries newest first; pass `next_cursor` as `cursor` for the next page (null at the
    end)."""

    deliveries: list[DeliverySummary]
    next_cursor: str | None


class ReplayRead(BaseModel):
    id: int
    replayed_at: datetime
    replayed_by: str
    outcome: Outcome
    detail: str | None
    order_id: str | None


class DeliveryRead(DeliverySummary):
    """A stored delivery with its headers, its body when kept, and its replays, oldest first."""

    headers: dict[str, str]
    """The platform's headers of interest, by lower-case name, as received."""
    body_size: int | None
    """Bytes in the kept body; null when it is not kept."""
    body: str | None
    """The kept body as text, exactly as received; null when it is not kept, or is not UTF-8
    (then `body_base64` holds it)."""
    body_base64: str | None
    """The kept body in base64, only when it is not UTF-8 text."""
    replays: list[ReplayRead]


class ReplayReceipt(BaseModel):
    """What a replay did."""

    delivery: int
    replay: int
    """Our id of this replay (listed in the delivery's `replays`)."""
    outcome: Outcome
    order_id: str | None = None
    detail: str | None = None
