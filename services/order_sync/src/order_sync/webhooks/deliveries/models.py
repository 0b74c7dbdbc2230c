from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index
from sqlmodel import Field, SQLModel


class WebhookReplay(SQLModel, table=True):
    """One replay of a stored delivery: who asked, when, and what became of it. The delivery's
    own record keeps what happened when it arrived."""

    __tablename__ = "webhook_replays"
    __table_args__ = (Index("ix_webhook_replays_delivery", "webhook_delivery_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    webhook_delivery_id: int = Field(
        sa_column=Column(
            BigInteger,
            # The replays go with their delivery when the retention task deletes it.
            ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
            nullable=False,
        )
    )
    replayed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    replayed_by: str
    """The subject of the token that asked for it."""
    outcome: str = Field(max_length=16)
    detail: str | None = None
    order_id: str | None = Field(default=None, max_length=36)
