import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Annotated, Any

from crm_common.envelope import UtcDatetime
from crm_events.types import Currency
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_instant(value: Any) -> Any:
    """A date means its midnight UTC; anything else must be an RFC 3339 date-time with offset."""
    if not isinstance(value, str):
        return value
    if _DATE.fullmatch(value):
        return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
    if not _RFC3339.fullmatch(value):
        raise ValueError(
            "expected an RFC 3339 date-time with offset (2026-01-31T00:00:00Z) "
            "or a date (2026-01-31)"
        )
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Instant = Annotated[AwareDatetime, BeforeValidator(parse_instant), AfterValidator(_to_utc)]
"""A point in time from a query string: an RFC 3339 date-time, or a date meaning midnight UTC."""

DecimalString = Annotated[
    Decimal,
    PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d+$"}),
]
"""A decimal written as a fixed-point string with the places it was rounded to ("12.50")."""


class KpiQuery(BaseModel):
    """The query string of GET /v1/kpis: a store and the half-open window [from, to)."""

    model_config = ConfigDict(populate_by_name=True)

    store_id: str = Field(min_length=1)
    start: Instant = Field(
        alias="from",
        description="Window start, included: an RFC 3339 date-time, or a date (midnight UTC)",
    )
    end: Instant = Field(
        alias="to",
        description="Window end, excluded: an RFC 3339 date-time, or a date (midnight UTC)",
    )
    currency: Currency | None = None
    """Required when the window holds orders in more than one currency."""

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError("`to` must be later than `from`")
        return end


class KpiRead(BaseModel):
    """Headline KPIs of the orders placed in [from, to) that were not cancelled."""

    model_config = ConfigDict(populate_by_name=True)

    store_id: str
    start: UtcDatetime = Field(alias="from")
    end: UtcDatetime = Field(alias="to")
    currency: str | None
    """The currency of every amount; null when the window holds no orders."""
    orders: int
    revenue: DecimalString
    """Sum of what was paid and not refunded, 2 places."""
    customers: int
    """Distinct buyers: the attributed customer, or the shop's customer id while unattributed."""
    aov: DecimalString
    """Average order value: revenue / orders, 2 places."""
    repeat_purchase_rate: DecimalString
    """Share of those customers with 2 or more orders in the window, 4 places."""
