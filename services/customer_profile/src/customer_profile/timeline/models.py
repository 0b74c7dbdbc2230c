from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


class TimelineEntry(SQLModel, table=True):
    """One thing that happened to a customer. Holds summary fields and references only, never
    contact data, so erasure has nothing to blank here (it deletes the entries)."""

    __tablename__ = "timeline_entries"
    # The page query walks (customer_id, occurred_at, entry_id) backwards: newest first.
    __table_args__ = (Index("ix_timeline_entries_page", "customer_id", "occurred_at", "entry_id"),)

    entry_id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    source_key: str = Field(unique=True)
    """What makes a redelivery a duplicate: the source event id, or for order milestones
    `order:<order_id>:<milestone>` (one crm.orders.v1 event can carry several milestones)."""
    customer_id: str = Field(foreign_key="customers.customer_id")
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    kind: str
    """`order.placed`, `ticket.created`, `product.viewed`, ...: the event type without its
    `crm.`/`shop.` prefix."""
    source: str
    """The service (or shop) that reported it."""
    order_id: str | None = Field(default=None, index=True)
    """Set on order milestones, so an undone merge can take its orders' entries back."""
    reference: dict[str, str] = Field(sa_column=Column(JSONB, nullable=False))
    summary: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    source_event_id: str | None = None
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TimelineMove(SQLModel, table=True):
    """An entry a merge moved from the merged customer to the survivor: what an undo moves back."""

    __tablename__ = "timeline_moves"

    merge_id: str = Field(primary_key=True)
    entry_id: int = Field(
        sa_column=Column(
            BigInteger,
            ForeignKey("timeline_entries.entry_id", ondelete="CASCADE"),
            primary_key=True,
        )
    )


class PendingActivity(SQLModel, table=True):
    """Storefront activity whose identities no customer holds yet. It waits, keyed by the
    keyed digests of those identities (never their values; see `identities.digest`), until one
    of them links to a customer, or until `expires_at`."""

    __tablename__ = "timeline_pending"
    __table_args__ = (
        Index("ix_timeline_pending_digests", "identity_digests", postgresql_using="gin"),
    )

    source_key: str = Field(primary_key=True)
    identity_digests: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    kind: str
    source: str
    reference: dict[str, str] = Field(sa_column=Column(JSONB, nullable=False))
    summary: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    source_event_id: str | None = None
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
