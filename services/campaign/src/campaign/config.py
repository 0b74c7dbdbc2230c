from crm_common.settings import PostgresSettings
from crm_events import topics
from pydantic_settings import SettingsConfigDict


class Settings(PostgresSettings):
    model_config = SettingsConfigDict(env_prefix="CAMPAIGN_", extra="ignore", frozen=True)

    service_name: str = "campaign"
    http_port: int = 8003
    consumer_group_prefix: str = "campaign"
    """Consumer groups are named `<prefix>.<consumer>`; tests use their own prefix so they never
    share partitions or offsets with a running service."""
    database_url: str = "postgresql+asyncpg://crm:crm@127.0.0.1:5432/campaign"
    # Overridable so that benchmarks (or a shadow deployment) run on topics of their own.
    customers_topic: str = topics.CRM_CUSTOMERS
    messages_topic: str = topics.CRM_MESSAGES
    orders_topic: str = topics.CRM_ORDERS
    carts_topic: str = topics.CRM_CARTS
    segments_topic: str = topics.CRM_SEGMENTS
    segment_scan_seconds: float = 1.0
    """How often memberships that time alone may have changed are looked for, and backfills
    of new or edited segments advanced."""
