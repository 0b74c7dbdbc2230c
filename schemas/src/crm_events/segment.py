"""Segment membership events that campaign publishes on `crm.segments.v1`.

A customer enters a segment when its definition starts to hold for them and exits when it stops
holding: because of an event (an order, a message, a ticket, a changed profile) or because time
passed (the 120th day without an order). The key (and CloudEvent `subject`) is the customer id,
so one customer's entries and exits stay in order; `version` grows with every change of one
customer's membership of one segment: keep the highest.
"""

from typing import Any

from crm_common.contracts import EventContract
from pydantic import Field

from crm_events._base import ContractModel
from crm_events.topics import CRM_SEGMENTS
from crm_events.types import NonEmptyStr, UtcDatetime

__all__ = [
    "SEGMENT_CONTRACTS",
    "SEGMENT_ENTERED",
    "SEGMENT_EXITED",
    "SegmentEntered",
    "SegmentExited",
    "SegmentMembership",
]


class SegmentMembership(ContractModel):
    """A customer's membership of a segment changed."""

    segment_id: NonEmptyStr
    segment_name: str | None = None
    customer_id: NonEmptyStr
    """customer-profile's id: the Kafka key and CloudEvent subject."""
    store_id: str | None = None
    changed_at: UtcDatetime
    """When the definition started or stopped holding."""
    cause_event_id: str | None = None
    """The id of the event that made it change; null when time alone did, or when a new or
    edited segment was computed from stored state."""
    version: int = Field(ge=1)
    """Grows with every change of this customer's membership of this segment."""


class SegmentEntered(SegmentMembership):
    """The customer now belongs to the segment."""


class SegmentExited(SegmentMembership):
    """The customer no longer belongs to the segment (also when erased or merged away)."""


_ENTERED: dict[str, Any] = {
    "segment_id": "lapsing-vips",
    "segment_name": "VIPs with no order in 120 days",
    "customer_id": "7f3c1b9e-2d4a-4c6b-8e0f-1a2b3c4d5e6f",
    "store_id": "demo",
    "changed_at": "2026-11-01T00:00:00Z",
    "cause_event_id": None,
    "version": 1,
}


def _contract(event_type: str, model: type[Any], example: dict[str, Any]) -> EventContract[Any]:
    return EventContract(
        type=event_type,
        version=1,
        domain="segment",
        model=model,
        topic=CRM_SEGMENTS,
        example=example,
        key="customer_id",
        source="campaign",
    )


SEGMENT_ENTERED = _contract("crm.segment.entered", SegmentEntered, _ENTERED)
SEGMENT_EXITED = _contract(
    "crm.segment.exited",
    SegmentExited,
    {
        **_ENTERED,
        "changed_at": "2026-11-03T09:30:00Z",
        "cause_event_id": "4f1d2c3b-5a6e-4f70-8a9b-0c1d2e3f4a5b",
        "version": 2,
    },
)

SEGMENT_CONTRACTS: tuple[EventContract[Any], ...] = (SEGMENT_ENTERED, SEGMENT_EXITED)
