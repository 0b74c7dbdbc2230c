from datetime import datetime
from zoneinfo import available_timezones

from crm_common.envelope import UtcDatetime
from pydantic import BaseModel, ConfigDict, Field, field_validator

_ZONES = frozenset(available_timezones())


class StoreSettingsUpdate(BaseModel):
    """PUT /v1/stores/{store_id}/settings."""

    model_config = ConfigDict(extra="forbid")

    time_zone: str = Field(examples=["Europe/Berlin"])
    """An IANA time zone name: the store's days (in every report) begin at its midnight."""

    @field_validator("time_zone")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in _ZONES:
            raise ValueError("expected an IANA time zone name, such as Europe/Berlin or UTC")
        return value


class StoreSettingsRead(BaseModel):
    store_id: str
    time_zone: str
    updated_at: UtcDatetime | None
    """Null while the store has its default (UTC)."""


def default_settings(store_id: str) -> StoreSettingsRead:
    return StoreSettingsRead(store_id=store_id, time_zone="UTC", updated_at=None)


def read_settings(store_id: str, time_zone: str, updated_at: datetime) -> StoreSettingsRead:
    return StoreSettingsRead(store_id=store_id, time_zone=time_zone, updated_at=updated_at)
