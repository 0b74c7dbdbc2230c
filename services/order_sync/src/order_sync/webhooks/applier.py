"""Applying stored webhook deliveries behind the receivers' answers: a task of every replica.

A receiver answers once the delivery is stored as `received` (committed), then wakes this task,
which applies what is waiting in batches of `webhook_apply_batch_size`, oldest first, one
transaction each (`service.apply_received` for each delivery, in a savepoint), and records each
outcome. Deliveries are picked with SKIP LOCKED, so replicas share them; what a stopped process
left `received` is applied when any replica next looks: at its start, and every
`webhook_apply_interval_seconds`.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from crm_common.db import transaction
from crm_common.http import Lifespan
from fastapi import FastAPI
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_sync.config import Settings
from order_sync.webhooks import repository, service
from order_sync.webhooks.topics import Topics

logger = logging.getLogger(__name__)

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
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

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

    def around(self, lifespan: Lifespan) -> Lifespan:
        """`lifespan` with the applier running inside it (after the migrations it needs)."""

        @asynccontextmanager
        async def run(app: FastAPI) -> AsyncIterator[None]:
            async with lifespan(app):
                self.start()
                try:
                    yield
                finally:
                    await self.stop()

        return run

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="webhook-delivery-applier")

    async def stop(self) -> None:
        """Stop at once: a batch in hand rolls back and stays `received` for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """A delivery was stored: apply it without waiting for the next interval."""
        self._wake.set()

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

    async def _loop(self) -> None:
        while True:
            # Cleared before looking, so a delivery stored meanwhile wakes the next round.
            self._wake.clear()
            try:
                while await self.run_once() == self._batch_size:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("applying webhook deliveries failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
