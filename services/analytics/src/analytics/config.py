from crm_common.settings import PostgresSettings
from crm_events import topics
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class Settings(PostgresSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore", frozen=True)

    service_name: str = "analytics"
    http_port: int = 8005
    database_url: str = "postgresql+asyncpg://crm:crm@127.0.0.1:5432/analytics"
    consumer_group: str = "analytics"
    """Prefix of the Kafka consumer groups (`<prefix>.orders`, `<prefix>.customers`)."""
    orders_topic: str = topics.CRM_ORDERS
    customers_topic: str = topics.CRM_CUSTOMERS
    insights_topic: str = topics.CRM_INSIGHTS
    clv_horizon_days: int = Field(default=365, ge=1, le=3650)
    """The horizon of the predicted lifetime value (and of the expected orders published)."""
    clv_discount_rate: float = Field(default=0.10, ge=0, le=1)
    """Yearly rate at which future revenue is discounted to today."""
    clv_refresh_hour_utc: int = Field(default=2, ge=0, le=23)
    """The hour (UTC) after which every store is refitted and its predictions republished."""
    clv_refresh_check_seconds: float = Field(default=600, gt=0)
    """How often a replica looks for stores due a refit (past the nightly hour, or never fitted)."""
