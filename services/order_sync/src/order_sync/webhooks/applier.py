"""Applying stored webhook deliveries behind the receivers' answers: a task of every replica.

A receiver answers once the delivery is stored as `received` (committed), then wakes this task,
which applies what is waiting in batches of `webhook_apply_batch_size`, oldest first, one
transaction each (`service.apply_received` for each delivery, in a savepoint), and records each
outcome. Deliveries are picked with SKIP LOCKED, so replicas share them; what a stopped process
left `received` is applied when any replica next looks: at its start, and every
`webhook_apply_interval_seconds`.
"""

from crm_common.db import transaction
from crm_common.periodic import Periodic
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_sync.config import Settings
from order_sync.webhooks import repository, service
from order_sync.webhooks.topics import Topics

APPLIED = Counter(
    "order_sync_webhook_applied_total",
    "Received webhook deliveries applied behind the answer, by outcome",
    ["outcome"],
)


class DeliveryApplier:
    """Applies `received` deliveries when woken, and every `interval` seconds."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        topics: Topics,
        batch_size: int,
        interval: float,
    ) -> None:
        self._sessions = sessions
        self._topics = topics
        self._batch_size = batch_size
        self.periodic = Periodic("webhook-delivery-applier", self._drain, interval=interval)

    @classmethod
    def configured(
        cls, sessions: async_sessionmaker[AsyncSession], settings: Settings
    ) -> "DeliveryApplier":
        return cls(
            sessions,
            topics=Topics.of(settings),
            batch_size=settings.webhook_apply_batch_size,
            interval=settings.webhook_apply_interval_seconds,
        )

    def wake(self) -> None:
        """A delivery was stored: apply it without waiting for the next interval."""
        self.periodic.wake()

    async def run_once(self) -> int:
        """Apply one batch of waiting deliveries; returns how many."""
        async with transaction(self._sessions) as session:
            waiting = await repository.lock_received(session=session, limit=self._batch_size)
            outcomes = [
                await service.apply_received(session=session, record=record, topics=self._topics)
                for record in waiting
            ]
        for applied in outcomes:
            APPLIED.labels(applied.outcome.value).inc()
        return len(waiting)

    async def _drain(self) -> None:
        while await self.run_once() == self._batch_size:
            pass
