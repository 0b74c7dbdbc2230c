"""A contact as the ingestion takes it, wherever it came from (an import row, a shop account)."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from crm_events.customer import (
    ConsentChannel,
    ConsentPurpose,
    ConsentSource,
    ConsentStatus,
    IdentityKind,
)


@dataclass(frozen=True, slots=True)
class Contact:
    """A person's contact data as a source states it; email and phone raw, names as given."""

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    store_id: str | None = None
    external_id: str | None = None
    """The shop's customer id (with `store_id`): a store_ref identity."""
    region: str | None = None
    """Where a local phone number is dialled from (ISO 3166-1 alpha-2)."""
    accepts_marketing: bool | None = None
    """Email marketing consent as the source states it; None: the source says nothing."""
    marketing_consent_at: datetime | None = None
    """When the person decided, if the source says."""
    tags: tuple[str, ...] = ()
    """Added to the customer's tags (never removes one)."""
    traits: dict[str, Any] | None = None
    """An RFC 7396 merge patch of the customer's traits."""
    identities: tuple[tuple[IdentityKind, str, str | None], ...] = ()
    """More identities of the person: (kind, value, store_id for a store_ref), as an export
    lists them."""
    consents: tuple["StatedConsent", ...] = ()
    """Decisions per channel and purpose, as an export lists them."""


@dataclass(frozen=True, slots=True)
class StatedConsent:
    channel: ConsentChannel
    purpose: ConsentPurpose
    status: ConsentStatus
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """Where contacts come from: what their consent decisions are recorded as."""

    consent_source: ConsentSource
    decided_at: datetime
    """The time of a consent decision that states none of its own."""
    proof: dict[str, str] = field(default_factory=dict)
    actor: str = "system"
    """Who merges made by these contacts are attributed to in the merge log."""


class Outcome(StrEnum):
    CREATED = "created"
    """A new customer (a prospect, until an order comes)."""
    LINKED = "linked"
    """An existing customer got new identities (or customers merged)."""
    UPDATED = "updated"
    """An existing customer's contact data, consent, tags or traits changed."""
    UNCHANGED = "unchanged"
