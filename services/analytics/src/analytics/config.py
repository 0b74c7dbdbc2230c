from crm_common.settings import PostgresSettings
from crm_events import topics
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
