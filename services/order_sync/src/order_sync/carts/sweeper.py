"""The abandonment sweeper: a background task of every replica, deciding idle checkouts."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from crm_common.db import transaction
from crm_common.http import Lifespan
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_sync.carts.abandonment import Sweep, sweep_checkouts
from order_sync.config import Settings

logger = logging.getLogger(__name__)


class AbandonmentSweeper:
    """Every `interval` seconds, decides the checkouts idle for `abandon_after`, in batches of
    `batch_size`, one transaction each. Replicas sweep side by side: each batch locks its rows
    with SKIP LOCKED, and a decided checkout leaves the open state."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        topic: str,
        abandon_after: timedelta,
        interval: float,
        batch_size: int,
    ) -> None:
        self._sessions = sessions
        self._topic = topic
        self._abandon_after = abandon_after
        self._interval = interval
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def configured(
        cls, sessions: async_sessionmaker[AsyncSession], settings: Settings
    ) -> "AbandonmentSweeper":
        """The sweeper as the service's settings describe it."""
        return cls(
            sessions,
            topic=settings.carts_topic,
            abandon_after=timedelta(seconds=settings.checkout_abandon_after_seconds),
            interval=settings.checkout_sweep_interval_seconds,
            batch_size=settings.checkout_sweep_batch_size,
        )

    def around(self, lifespan: Lifespan) -> Lifespan:
        """`lifespan` with the sweeper running inside it (after the migrations it needs)."""

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
        self._task = asyncio.create_task(self._run(), name="checkout-abandonment-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sweep(self) -> Sweep:
        """Decide every checkout idle now, batch after batch; returns the totals."""
        now = datetime.now(UTC)
        seen = abandoned = converted = 0
        while True:
            async with transaction(self._sessions) as session:
                batch = await sweep_checkouts(
                    session=session,
                    now=now,
                    abandon_after=self._abandon_after,
                    limit=self._batch_size,
                    topic=self._topic,
                )
            seen, abandoned = seen + batch.seen, abandoned + batch.abandoned
            converted += batch.converted
            if batch.seen < self._batch_size:
                return Sweep(seen, abandoned, converted)

    async def _run(self) -> None:
        while True:
            try:
                result = await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The next round tries again; nothing was decided in the failed transaction.
                logger.exception("checkout sweep failed")
            else:
                if result.seen:
                    logger.info(
                        "checkouts swept",
                        extra={"abandoned": result.abandoned, "converted": result.converted},
                    )
            await asyncio.sleep(self._interval)
