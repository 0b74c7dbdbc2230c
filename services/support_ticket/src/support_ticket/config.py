from crm_common.settings import MongoSettings
from crm_events import topics
from pydantic import Field, SecretStr
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

    relay_poll_interval_seconds: float = Field(default=0.5, gt=0)
    """How often the relay looks for ticket events still to publish (a write in this process
    wakes it at once)."""
    relay_batch_size: int = Field(default=200, ge=1)
    """Tickets whose pending events one relay round publishes."""

    sla_poll_interval_seconds: float = Field(default=1.0, gt=0)
    """How often the SLA scheduler looks for tickets whose warning or due instant has come."""
    sla_batch_size: int = Field(default=200, ge=1)
    """Tickets one query of the SLA scheduler takes."""
    sla_concurrency: int = Field(default=8, ge=1)
    """Tickets the SLA scheduler computes at once (each under its own lease)."""

    attachment_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    """The largest attachment a message may carry (decoded)."""
    attachment_content_types: tuple[str, ...] = (
        "image/png",
        "image/jpeg",
        "image/gif",
        "application/pdf",
        "text/plain",
        "text/csv",
    )
    inbound_email_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    """The largest raw message `POST /v1/inbound/email` and the SMTP listener take."""

    mail_from: str = "support@example.com"
    """The address replies come from, and that customers write to."""
    mail_domain: str = "support.example.com"
    """The right-hand side of the Message-IDs of our replies."""
    smtp_host: str | None = None
    """Where replies go out; unset: replies are stored but not mailed."""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    smtp_listen_host: str | None = None
    """Set (with the port) to take inbound mail over SMTP as well as over HTTP."""
    smtp_listen_port: int = Field(default=2525, ge=0, le=65535)
    """0: any free port (the listener tells which)."""
