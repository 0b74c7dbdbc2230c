"""The abandonment sweeper: a background task of every replica, deciding idle checkouts."""

import logging
from datetime import UTC, datetime, timedelta

from crm_common.db import transaction
from crm_common.periodic import Periodic
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
        self.periodic = Periodic(
            "checkout-abandonment-sweeper", self._sweep_and_log, interval=interval
        )
        self._batch_size = batch_size

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

    async def _sweep_and_log(self) -> None:
        result = await self.sweep()
        if result.seen:
            logger.info(
                "checkouts swept",
                extra={"abandoned": result.abandoned, "converted": result.converted},
            )
