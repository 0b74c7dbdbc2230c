from crm_common.settings import PostgresSettings
from crm_events import topics
from pydantic_settings import SettingsConfigDict


class Settings(PostgresSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTOMER_PROFILE_", extra="ignore", frozen=True)

    service_name: str = "customer-profile"
    http_port: int = 8002
    database_url: str = "postgresql+asyncpg://crm:crm@127.0.0.1:5432/customer_profile"

    # Overridable so that tests (or a shadow deployment) can run on topics and a group of
    # their own without taking partitions from the real consumers.
    orders_topic: str = topics.CRM_ORDERS
    customers_topic: str = topics.CRM_CUSTOMERS
    consumer_group: str = "customer-profile"
