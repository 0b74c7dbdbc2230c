from datetime import datetime
from typing import Annotated, Literal, Self

from crm_common.http import Text
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from campaign.segments.definition import Condition
from campaign.segments.evaluate import Verdict
from campaign.segments.membership import GRAMMAR
from campaign.segments.models import SegmentRow

Name = Annotated[Text, StringConstraints(min_length=1, max_length=200)]


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    definition: Condition


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    definition: Condition | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if self.name is None and self.definition is None:
            raise ValueError("give a name, a definition or both")
        return self


class SegmentPreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: Condition


class SegmentRead(BaseModel):
    segment_id: str
    name: str
    definition: Condition
    version: int
    status: Literal["building", "live"]
    """`building` while its members are computed from stored state."""
    members: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: SegmentRow, members: int) -> "SegmentRead":
        return cls(
            segment_id=row.segment_id,
            name=row.name,
            definition=GRAMMAR.validate_python(row.definition),
            version=row.version,
            status="live" if row.built_version >= row.version else "building",
            members=members,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class SegmentPreview(BaseModel):
    evaluated: int
    """Customers evaluated (every one neither merged nor erased)."""
    matching: int
    sample: list[str]
    """Up to 20 of the matching customers' ids."""


class ConditionVerdict(BaseModel):
    kind: str
    holds: bool
    detail: str
    next_change: datetime | None
    """When time alone could next change this verdict; null when only events can."""
    children: list["ConditionVerdict"] = Field(default_factory=list)

    @classmethod
    def of(cls, verdict: Verdict) -> "ConditionVerdict":
        return cls(
            kind=verdict.kind,
            holds=verdict.holds,
            detail=verdict.detail,
            next_change=verdict.next_change,
            children=[cls.of(child) for child in verdict.children],
        )


class MembershipExplanation(BaseModel):
    segment_id: str
    customer_id: str
    """The customer asked about, or the one they were merged into."""
    member: bool
    """Membership as stored (and announced)."""
    holds: bool
    """The definition's verdict now; it differs from `member` only until time or the event
    that changed it has been applied."""
    explanation: ConditionVerdict
