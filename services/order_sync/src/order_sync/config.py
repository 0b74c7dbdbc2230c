import tempfile
from pathlib import Path
from typing import Self

from crm_common.settings import PostgresSettings
from crm_events import topics
from pydantic import Field, model_validator
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
    activity_topic: str = topics.SHOP_ACTIVITY
    carts_topic: str = topics.CRM_CARTS
    inventory_topic: str = topics.CRM_INVENTORY

    # A checkout with no activity for this long, and no order after it, is abandoned.
    checkout_abandon_after_seconds: float = Field(default=3600.0, gt=0)
    checkout_sweep_interval_seconds: float = Field(default=60.0, gt=0)
    checkout_sweep_batch_size: int = Field(default=500, ge=1)

    # Webhook deliveries: an accepted delivery's body is kept this long (for replay), its
    # record (metadata, outcome, replays) longer, for audit and the sync status; a rejected one
    # (never with a body) briefly. Checked every interval, deleted in batches.
    webhook_body_retention_days: float = Field(default=30.0, gt=0)
    webhook_record_retention_days: float = Field(default=90.0, gt=0)
    webhook_rejected_retention_days: float = Field(default=7.0, gt=0)
    webhook_retention_interval_seconds: float = Field(default=3600.0, gt=0)
    webhook_retention_batch_size: int = Field(default=1000, ge=1, le=100_000)

    # Webhook deliveries are answered once stored, then applied behind the answer in batches
    # of this many (one transaction each); a replica also looks for deliveries left waiting
    # (by a process that stopped) this often.
    webhook_apply_batch_size: int = Field(default=100, ge=1, le=1000)
    webhook_apply_interval_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _records_outlive_bodies(self) -> Self:
        if self.webhook_record_retention_days < self.webhook_body_retention_days:
            raise ValueError(
                "webhook_record_retention_days must be at least webhook_body_retention_days: "
                "a kept body needs its record"
            )
        return self

    # Historical imports: uploads are spooled to files here (shared storage when several
    # replicas serve the API), then applied `import_chunk_size` orders per transaction.
    import_spool_dir: Path = Path(tempfile.gettempdir()) / "order-sync-imports"
    import_chunk_size: int = Field(default=500, ge=1, le=5000)
    import_max_bytes: int = Field(default=2 * 1024**3, ge=1)
    import_max_stored_errors: int = Field(default=10_000, ge=0)
    import_resume_on_start: bool = True
