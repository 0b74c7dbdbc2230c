"""The transactional outbox: events are written with the state change, then relayed to Kafka.

A service calls `add_event` inside the transaction that changes its state; the relay publishes
committed rows in order and deletes them once the broker has acknowledged every one. A crash at
any point loses nothing: unpublished rows stay, and a row published but not yet deleted is
published again, which consumers absorb by event id.
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from opentelemetry.propagate import inject
from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, Column, DateTime, LargeBinary, delete, event, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from crm_common.envelope import CloudEvent, to_json_bytes

logger = logging.getLogger(__name__)

_RELAY_LOCK_ID = 7_354_022
_PENDING_FLAG = "crm_outbox_pending"

OUTBOX_PUBLISHED = Counter(
    "crm_outbox_published_total", "Events relayed from the outbox to Kafka", ["topic"]
)
OUTBOX_BACKLOG = Gauge("crm_outbox_backlog", "Events committed but not yet relayed")
OUTBOX_FAILURES = Counter("crm_outbox_publish_failures_total", "Relay batches that failed")


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_events"

    seq: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    event_id: str = Field(index=True)
    topic: str
    key: str | None = None
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )


def add_event(
    session: AsyncSession, *, topic: str, key: str | None, event: CloudEvent[Any]
) -> None:
    """Stage `event` for publishing in the caller's transaction."""
    headers: dict[str, str] = {"content-type": "application/cloudevents+json"}
    inject(headers)
    session.add(
        OutboxEvent(
            event_id=event.id,
            topic=topic,
            key=key,
            payload=to_json_bytes(event),
            headers=headers,
            created_at=datetime.now(UTC),
        )
    )
    session.info[_PENDING_FLAG] = True


def add_events(
    session: AsyncSession, *, topic: str, key: str | None, events: list[CloudEvent[Any]]
) -> None:
    for item in events:
        add_event(session, topic=topic, key=key, event=item)


class OutboxRelay:
    """Publishes committed outbox rows in commit order; one relay at a time across replicas."""

    def __init__(
        self,
        engine: AsyncEngine,
        broker: KafkaBroker,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.5,
    ) -> None:
        self._engine = engine
        self._broker = broker
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        # Wake the relay as soon as any session in this process commits outbox rows,
        # instead of waiting out the poll interval.
        event.listen(Session, "after_commit", self._after_commit)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        event.remove(Session, "after_commit", self._after_commit)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_PENDING_FLAG, False):
            self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                relayed = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                OUTBOX_FAILURES.inc()
                logger.exception("outbox relay batch failed; retrying")
                relayed = 0
                await asyncio.sleep(self._poll_interval)
            if relayed < self._batch_size:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)

    async def relay_once(self) -> int:
        """Publish one batch; returns how many events went out."""
        async with self._engine.begin() as connection:
            locked = await connection.scalar(
                text(f"SELECT pg_try_advisory_xact_lock({_RELAY_LOCK_ID})")
            )
            if not locked:
                return 0
            table = OutboxEvent.__table__  # type: ignore[attr-defined]
            rows = (
                await connection.execute(
                    select(
                        table.c.seq, table.c.topic, table.c.key, table.c.payload, table.c.headers
                    )
                    .order_by(table.c.seq)
                    .limit(self._batch_size)
                )
            ).all()
            if not rows:
                OUTBOX_BACKLOG.set(0)
                return 0
            # Send the whole batch before awaiting any acknowledgement: the producer pipelines
            # it, and per-key order holds because sends are issued in commit order.
            pending = [
                await self._broker.publish(
                    row.payload,
                    row.topic,
                    key=row.key.encode() if row.key is not None else None,
                    headers=row.headers,
                    no_confirm=True,
                )
                for row in rows
            ]
            await asyncio.gather(*pending)
            await connection.execute(delete(table).where(table.c.seq.in_([r.seq for r in rows])))
            for row in rows:
                OUTBOX_PUBLISHED.labels(row.topic).inc()
            backlog = await connection.scalar(select(func.count()).select_from(table))
            OUTBOX_BACKLOG.set(backlog or 0)
            return len(rows)
