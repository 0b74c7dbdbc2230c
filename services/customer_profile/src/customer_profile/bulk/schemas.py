from datetime import datetime
from decimal import Decimal
from typing import Any

from crm_events.customer import IdentityKind
from pydantic import BaseModel

from customer_profile.consents.schemas import ConsentRead


class RowErrorRead(BaseModel):
    row: int
    """1 for the first record (after the CSV header; the first non-blank NDJSON line)."""
    field: str
    """The column at fault; `row` for the record as a whole, `identity` when it names nobody."""
    reason: str


class ImportReport(BaseModel):
    """What an import did, row by row counted."""

    import_id: str
    format: str
    rows: int
    """Records read (blank ones aside)."""
    created: int
    """New customers (prospects: no orders yet)."""
    updated: int
    """Existing customers whose contact data, consent, tags or traits changed."""
    linked: int
    """Existing customers that got new identities from a row (merges included)."""
    unchanged: int
    failed: int
    merges: int
    """Customers merged because a row joined them."""
    suggestions: int
    """Rows whose shared identifiers gave merge suggestions instead."""
    ignored_columns: list[str]
    errors: list[RowErrorRead]
    """At most 1,000, in row order; `errors_truncated` says when there were more."""
    errors_truncated: bool


class ExportIdentity(BaseModel):
    kind: IdentityKind
    value: str
    store_id: str | None
    linked_at: datetime


class ExportStats(BaseModel):
    orders_count: int
    total_spent: Decimal
    currency: str | None
    first_order_at: datetime | None
    last_order_at: datetime | None


class ExportLine(BaseModel):
    """One customer on one line of `GET /v1/customers:export`."""

    customer_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    accepts_marketing: bool
    identities: list[ExportIdentity]
    consents: list[ConsentRead]
    tags: list[str]
    traits: dict[str, Any]
    stats: ExportStats
    version: int
    created_at: datetime
    updated_at: datetime
