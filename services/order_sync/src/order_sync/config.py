from crm_common.settings import PostgresSettings
from crm_events import topics
from pydantic_settings import SettingsConfigDict


class Settings(PostgresSettings):
    model_config = SettingsConfigDict(env_prefix="ORDER_SYNC_", extra="ignore", frozen=True)

    service_name: str = "order-sync"
    http_port: int = 8001
    database_url: str = "postgresql+asyncpg://crm:crm@127.0.0.1:5432/order_sync"

    # Topic names are settings so that tests (and staging clusters shared by several
    # deployments) can point one instance at topics of its own.
    shop_orders_topic: str = topics.SHOP_ORDERS
    orders_topic: str = topics.CRM_ORDERS
