from crm_common.settings import MongoSettings
from crm_events import topics
from pydantic_settings import SettingsConfigDict


class Settings(MongoSettings):
    model_config = SettingsConfigDict(env_prefix="SUPPORT_TICKET_", extra="ignore", frozen=True)

    service_name: str = "support-ticket"
    http_port: int = 8004
    consumer_group_prefix: str = "support_ticket"
    """Consumer groups are named `<prefix>.<consumer>`; tests use their own prefix so they never
    share partitions or offsets with a running service."""
    mongodb_database: str = "support_ticket"
    # Overridable so that benchmarks (or a shadow deployment) run on topics of their own.
    customers_topic: str = topics.CRM_CUSTOMERS
    tickets_topic: str = topics.CRM_TICKETS
