from decimal import Decimal

from crm_common.settings import PostgresSettings
from crm_events import topics
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from customer_profile.customers.identities import (
    DEFAULT_BLOCKED_PATTERNS,
    DEFAULT_BLOCKED_VALUES,
    DEFAULT_PHONE_MIN_DIGITS,
)
from customer_profile.pii.keyring import PiiKeySettings


class Settings(PostgresSettings, PiiKeySettings):
    """The service's settings; the `PII_*` keys come from PiiKeySettings (see pii.keyring)."""

    model_config = SettingsConfigDict(env_prefix="CUSTOMER_PROFILE_", extra="ignore", frozen=True)

    service_name: str = "customer-profile"
    http_port: int = 8002
    database_url: str = "postgresql+asyncpg://crm:crm@127.0.0.1:5432/customer_profile"

    # Overridable so that tests (or a shadow deployment) can run on topics and a group of
    # their own without taking partitions from the real consumers.
    orders_topic: str = topics.CRM_ORDERS
    customers_topic: str = topics.CRM_CUSTOMERS
    activity_topic: str = topics.SHOP_ACTIVITY
    messages_topic: str = topics.CRM_MESSAGES
    tickets_topic: str = topics.CRM_TICKETS
    consumer_group: str = "customer-profile"

    # Identity resolution (lists are JSON in the environment: '["null", "n/a"]').
    identity_blocklist: tuple[str, ...] = DEFAULT_BLOCKED_VALUES
    """Values (any kind, compared lower-cased) that never become an identity."""
    identity_blocked_patterns: tuple[str, ...] = DEFAULT_BLOCKED_PATTERNS
    """Regular expressions matched against whole normalised values, ignoring case."""
    phone_min_digits: int = Field(default=DEFAULT_PHONE_MIN_DIGITS, ge=1)
    """Shorter national numbers are junk."""
    shared_identity_limit: int = Field(default=3, ge=1)
    """A value seen with more distinct people stops linking and merging: merge suggestions."""

    # Timeline and scoring (see the README: Timeline, Lifecycle stage, value tier and RFM).
    timeline_pending_days: int = Field(default=30, ge=1)
    """How long storefront activity of identities no customer holds waits to be attached."""
    lifecycle_new_days: int = Field(default=30, ge=0)
    lifecycle_new_max_orders: int = Field(default=1, ge=1)
    lifecycle_active_days: int = Field(default=90, ge=1)
    lifecycle_at_risk_days: int = Field(default=180, ge=1)
    lifecycle_lapsed_days: int = Field(default=365, ge=1)
    value_tiers: dict[str, tuple[Decimal, Decimal, Decimal]] = Field(
        default_factory=lambda: {"*": (Decimal(100), Decimal(500), Decimal(2000))}
    )
    """total_spent from which silver, gold and platinum start, per currency ("*": any other)."""
    scoring_nightly: bool = True
    """Run the exact RFM batch in-process once a day (one replica at a time)."""
    scoring_nightly_hour: int = Field(default=3, ge=0, le=23)
    """The UTC hour of the nightly batch."""
