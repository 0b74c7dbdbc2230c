"""Refitting stores: on request, and nightly on every replica (a store refitted by one of them
is not due for the others)."""

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta

from crm_common.db import transaction
from crm_common.periodic import Periodic
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics.config import Settings
from analytics.predictions import repository, service
from analytics.predictions.exceptions import NothingToFit
from analytics.predictions.schemas import ModelCardRead

logger = logging.getLogger(__name__)

# Customers' predictions per transaction: a store of a million customers is stored (and its
# events staged) in steps a crash can interrupt without holding one huge transaction open.
CHUNK = 2000


class Refitter:
    """Fits stores and stores what the fits predict."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._topic = settings.insights_topic
        self._horizon_days = settings.clv_horizon_days
        self._discount_rate = settings.clv_discount_rate
        self._refresh_at = time(settings.clv_refresh_hour_utc, tzinfo=UTC)
        self.periodic = Periodic(
            "clv-nightly-refit", self.refresh_due, interval=settings.clv_refresh_check_seconds
        )

    async def refit(self, store_id: str, observed_until: datetime | None = None) -> ModelCardRead:
        """Fit the store on its history up to `observed_until`. Without it (up to now) the fit
        becomes the store's current model and, when it converged, its customers' predictions
        are stored and published; with it, the fit is checked against the purchases after it
        and nothing is stored."""
        now = datetime.now(UTC)
        current = observed_until is None
        until = now if observed_until is None else observed_until
        async with self._sessions() as session:
            history = await service.read_history(
                session=session, store_id=store_id, observed_until=until, now=now
            )
            version = await service.next_version(session=session, store_id=store_id)
        if history is None:
            raise NothingToFit(store_id, until)
        # Seconds of numerical work for a large store: off the event loop.
        refit = await asyncio.to_thread(
            service.fit_history,
            history,
            fitted_at=now,
            version=version if current else None,
            horizon_days=self._horizon_days,
            discount_rate=self._discount_rate,
        )
        if not current:
            return refit.card
        rows = refit.predictions
        for start in range(0, len(rows), CHUNK):
            async with transaction(self._sessions) as session:
                await service.store_predictions(
                    session=session, rows=rows[start : start + CHUNK], topic=self._topic
                )
        # Last: a refit cut short leaves the store due, and the next one publishes it whole.
        async with transaction(self._sessions) as session:
            await service.store_card(session=session, card=refit.card)
        return refit.card

    def last_refresh_time(self, now: datetime) -> datetime:
        """The latest nightly refresh time at or before `now`."""
        today = datetime.combine(now.date(), self._refresh_at)
        return today if today <= now else today - timedelta(days=1)

    async def refresh_due(self) -> None:
        """Refit every store not fitted since the last nightly refresh time (or never)."""
        since = self.last_refresh_time(datetime.now(UTC))
        async with self._sessions() as session:
            stores = await repository.due_stores(session=session, since=since)
        for store_id in stores:
            async with self._sessions() as guard:
                if not await repository.try_lock_store(session=guard, store_id=store_id):
                    continue
                try:
                    card = await repository.current_card(session=guard, store_id=store_id)
                    if card is None or card.fitted_at < since:
                        await self._refit_logged(store_id)
                finally:
                    await repository.unlock_store(session=guard, store_id=store_id)

    async def _refit_logged(self, store_id: str) -> None:
        try:
            card = await self.refit(store_id)
        except NothingToFit:
            return
        logger.info(
            "store refitted",
            extra={
                "store_id": store_id,
                "customers": card.customers,
                "converged": card.converged,
                "fit_seconds": card.fit_seconds,
            },
        )
