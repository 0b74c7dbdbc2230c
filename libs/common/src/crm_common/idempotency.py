"""Idempotent consumption: remember each event id a consumer has applied, in its own transaction."""

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_events"

    consumer: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    processed_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )


async def first_delivery(session: AsyncSession, *, consumer: str, event_id: str) -> bool:
    """Claim `event_id` for `consumer`; False when it was already applied.

    Call it inside the transaction that applies the event, so the claim and the effect commit
    or roll back together.
    """
    table = ProcessedEvent.__table__  # type: ignore[attr-defined]
    claimed = await session.execute(
        insert(table)
        .values(consumer=consumer, event_id=event_id, processed_at=datetime.now(UTC))
        .on_conflict_do_nothing()
        .returning(table.c.event_id)
    )
    return claimed.first() is not None
