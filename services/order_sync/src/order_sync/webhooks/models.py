from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

# Outcomes that hold a delivery's de-duplication key: a later delivery with the same key is a
# duplicate. `received` is a delivery stored and answered, its payload not applied yet.
CLAIMING_OUTCOMES = ("received", "applied", "unchanged", "ignored")
# Literal SQL, never bound parameters: ON CONFLICT must prove it implies the index's predicate,
# which PostgreSQL cannot do once a prepared statement switches to its generic plan.
CLAIMING = text("outcome IN (" + ", ".join(f"'{o}'" for o in CLAIMING_OUTCOMES) + ")")
# What the retention task looks for (webhooks/deliveries/retention.py): bodies still kept, and
# rejected records (which never keep one).
BODY_KEPT = text("body_purged_at IS NULL AND outcome <> 'rejected'")
REJECTED = text("outcome = 'rejected'")
# What the applier looks for (webhooks/applier.py): deliveries answered, not applied yet.
RECEIVED = text("outcome = 'received'")


class WebhookDelivery(SQLModel, table=True):
    """One webhook request as received, kept for replay and audit, with what became of it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_store_received", "store_id", "received_at"),
        Index(
            "uq_webhook_deliveries_claim",
            "platform",
            "store_id",
            "dedup_key",
            unique=True,
            postgresql_where=CLAIMING,
        ),
        # Listing a store's deliveries newest first, a keyset page at a time.
        Index("ix_webhook_deliveries_store_id", "store_id", "id"),
        Index("ix_webhook_deliveries_received", "received_at"),
        Index("ix_webhook_deliveries_body_kept", "received_at", postgresql_where=BODY_KEPT),
        Index("ix_webhook_deliveries_rejected", "received_at", postgresql_where=REJECTED),
        Index("ix_webhook_deliveries_to_apply", "id", postgresql_where=RECEIVED),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    platform: str = Field(max_length=32)
    store_id: str = Field(max_length=64)
    """As named in the URL; not a foreign key, since deliveries to unknown stores are kept too."""
    topic: str | None = None
    delivery_id: str | None = None
    """The platform's id of this delivery (`X-Shopify-Webhook-Id`, `X-WC-Webhook-Delivery-ID`)."""
    dedup_key: str | None = None
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    """The exact bytes received: the signature was computed over them."""
    body_sha256: str = Field(max_length=64)
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    trace_context: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    """The receiving request's trace (W3C `traceparent`), which applying the delivery continues."""
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    outcome: str = Field(max_length=16)
    detail: str | None = None
    order_id: str | None = Field(default=None, max_length=36)
    body_purged_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    """When the retention task removed the body (then empty); the record itself stays longer."""
