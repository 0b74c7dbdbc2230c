"""Retention of stored webhook deliveries: a background task of every replica.

An accepted delivery's body (what a replay needs) is emptied after
`webhook_body_retention_days`; its record (headers, digest, outcome, replays) is deleted after
`webhook_record_retention_days`; a rejected record, which never had a body, after
`webhook_rejected_retention_days`. Each step runs in batches of `webhook_retention_batch_size`
rows, one transaction each, locking its rows with SKIP LOCKED: replicas share the work instead
of waiting for each other, and a delivery being replayed is left for the next round.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crm_common.db import transaction
from crm_common.periodic import Periodic
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_sync.config import Settings
from order_sync.webhooks.deliveries import repository

logger = logging.getLogger(__name__)

REMOVED = Counter(
    "order_sync_webhook_retention_total",
    "Webhook delivery bodies purged and records deleted by the retention task",
    ["what"],
)


@dataclass(frozen=True, slots=True)
class Retained:
    """What one run removed."""

    bodies_purged: int
    rejected_deleted: int
    records_deleted: int


class DeliveryRetention:
    """Every `interval` seconds, removes what is past its retention, batch after batch."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        body_days: float,
        record_days: float,
        rejected_days: float,
        interval: float,
        batch_size: int,
    ) -> None:
        self._sessions = sessions
        self._body_age = timedelta(days=body_days)
        self._record_age = timedelta(days=record_days)
        self._rejected_age = timedelta(days=rejected_days)
        self.periodic = Periodic("webhook-delivery-retention", self._run_and_log, interval=interval)
        self._batch_size = batch_size

    @classmethod
    def configured(
        cls, sessions: async_sessionmaker[AsyncSession], settings: Settings
    ) -> "DeliveryRetention":
        """The retention task as the service's settings describe it."""
        return cls(
            sessions,
            body_days=settings.webhook_body_retention_days,
            record_days=settings.webhook_record_retention_days,
            rejected_days=settings.webhook_rejected_retention_days,
            interval=settings.webhook_retention_interval_seconds,
            batch_size=settings.webhook_retention_batch_size,
        )

    async def run_once(self, *, now: datetime | None = None) -> Retained:
        """Remove everything past its retention at `now` (default: the current time)."""
        now = now or datetime.now(UTC)
        limit = self._batch_size

        def purge(session: AsyncSession) -> Awaitable[int]:
            return repository.purge_bodies(
                session=session, received_before=now - self._body_age, limit=limit, now=now
            )

        def rejected(session: AsyncSession) -> Awaitable[int]:
            return repository.delete_rejected(
                session=session, received_before=now - self._rejected_age, limit=limit
            )

        def records(session: AsyncSession) -> Awaitable[int]:
            return repository.delete_records(
                session=session, received_before=now - self._record_age, limit=limit
            )

        # Records first: a body about to go with its record is not purged on the way.
        deleted = await self._in_batches(records, "records_deleted")
        dropped = await self._in_batches(rejected, "rejected_deleted")
        purged = await self._in_batches(purge, "bodies_purged")
        return Retained(bodies_purged=purged, rejected_deleted=dropped, records_deleted=deleted)

    async def _in_batches(self, step: Callable[[AsyncSession], Awaitable[int]], what: str) -> int:
        total = 0
        while True:
            async with transaction(self._sessions) as session:
                done = await step(session)
            total += done
            REMOVED.labels(what).inc(done)
            # A short batch means nothing unlocked is left (rows other replicas hold are theirs).
            if done < self._batch_size:
                return total

    async def _run_and_log(self) -> None:
        result = await self.run_once()
        if result.bodies_purged or result.rejected_deleted or result.records_deleted:
            logger.info(
                "webhook deliveries past retention removed",
                extra={
                    "bodies_purged": result.bodies_purged,
                    "rejected_deleted": result.rejected_deleted,
                    "records_deleted": result.records_deleted,
                },
            )
