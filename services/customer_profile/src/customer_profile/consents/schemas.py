from datetime import UTC, datetime
from typing import Annotated

from crm_events.customer import ConsentChannel, ConsentPurpose, ConsentSource, ConsentStatus
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from customer_profile.consents.models import ConsentLogEntry, CustomerConsent


def in_utc(value: datetime) -> datetime:
    """`value` in UTC; ValueError (a 422) when that is outside the years 1 to 9999, which a
    datetime cannot hold (`0001-01-01T00:00:00+14:00`)."""
    try:
        return value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("out of range once in UTC (years 1 to 9999)") from error


ProofKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ProofValue = Annotated[str, StringConstraints(max_length=1000)]


class ConsentChange(BaseModel):
    """A consent decision recorded through the API."""

    model_config = ConfigDict(extra="forbid")

    status: ConsentStatus
    source: ConsentSource = ConsentSource.API
    """`api` (the default), `import` or `shop`; `order` decisions come from orders only."""
    proof: dict[ProofKey, ProofValue] = Field(default_factory=dict, max_length=20)
    """Free-form evidence: `ip`, `user_agent`, `form_id`, `order_id`, ..."""
    changed_at: AwareDatetime | None = None
    """When the person decided; defaults to now, never in the future."""

    @field_validator("source")
    @classmethod
    def _not_from_an_order(cls, source: ConsentSource) -> ConsentSource:
        if source is ConsentSource.ORDER:
            raise ValueError("order consents come from orders only; use api, import or shop")
        return source

    @field_validator("changed_at")
    @classmethod
    def _not_in_the_future(cls, changed_at: datetime | None) -> datetime | None:
        if changed_at is not None and changed_at > datetime.now(UTC):
            raise ValueError("a decision cannot have been taken in the future")
        return in_utc(changed_at) if changed_at is not None else None


class ConsentRead(BaseModel):
    channel: ConsentChannel
    purpose: ConsentPurpose
    status: ConsentStatus
    source: ConsentSource
    changed_at: datetime
    proof: dict[str, str] | None
    recorded_at: datetime

    @classmethod
    def of(cls, row: CustomerConsent) -> "ConsentRead":
        return cls(
            channel=ConsentChannel(row.channel),
            purpose=ConsentPurpose(row.purpose),
            status=ConsentStatus(row.status),
            source=ConsentSource(row.source),
            changed_at=row.changed_at,
            proof=row.proof,
            recorded_at=row.recorded_at,
        )


class ConsentLogRead(ConsentRead):
    entry_id: int
    merge_id: str | None
    reason: str | None

    @classmethod
    def of_entry(cls, row: ConsentLogEntry) -> "ConsentLogRead":
        assert row.entry_id is not None
        return cls(
            entry_id=row.entry_id,
            channel=ConsentChannel(row.channel),
            purpose=ConsentPurpose(row.purpose),
            status=ConsentStatus(row.status),
            source=ConsentSource(row.source),
            changed_at=row.changed_at,
            proof=row.proof,
            recorded_at=row.recorded_at,
            merge_id=row.merge_id,
            reason=row.reason,
        )


class CustomerConsents(BaseModel):
    customer_id: str
    consents: list[ConsentRead]
    """The decision in force per (channel, purpose); a pair without one is not granted."""
    log: list[ConsentLogRead]
    """Every applied change, oldest first."""


class ConsentChangeResult(ConsentRead):
    customer_id: str
    changed: bool
    """False when the same status from the same source was already in force."""
