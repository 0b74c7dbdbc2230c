"""The in-process nightly job: the exact RFM batch and the purge of expired pending activity.

Every replica runs the loop; an advisory lock lets one of them do each night's work. At start a
replica runs the job at once when the last batch is more than a day old (or there was none), so
a fresh or long-stopped deployment gets its boundaries without waiting for the night.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from crm_common.db import transaction
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_profile.scoring import repository, service
from customer_profile.timeline import service as timeline

logger = logging.getLogger(__name__)

_NIGHTLY_LOCK_ID = 7_354_032
_RETRY_SECONDS = 300.0


def next_run(now: datetime, hour: int) -> datetime:
    """The next `hour`:00 UTC strictly after `now`."""
    today = now.astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)


async def run_once(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Run the nightly job unless another replica is; True when this one ran it."""
    async with transaction(sessions) as session:
        if not await repository.try_nightly_lock(session=session, lock_id=_NIGHTLY_LOCK_ID):
            return False
        run = await service.recompute(session=session)
        purged = await timeline.purge_pending(session=session, now=run.finished_at)
    logger.info(
        "nightly scoring done",
        extra={"stores": run.stores, "customers": run.customers, "pending_purged": purged},
    )
    return True


async def _due_at_start(sessions: async_sessionmaker[AsyncSession], now: datetime) -> bool:
    async with sessions() as session:
        last = await repository.last_run_at(session=session)
    return last is None or now - last > timedelta(days=1)


async def _loop(sessions: async_sessionmaker[AsyncSession], hour: int) -> None:
    due = datetime.now(UTC)
    try:
        if not await _due_at_start(sessions, due):
            due = next_run(due, hour)
    except Exception:
        logger.exception("could not tell when scoring last ran; running it now")
    while True:
        await asyncio.sleep(max((due - datetime.now(UTC)).total_seconds(), 0.0))
        try:
            await run_once(sessions)
        except Exception:
            logger.exception("nightly scoring failed; retrying later")
            due = datetime.now(UTC) + timedelta(seconds=_RETRY_SECONDS)
            continue
        due = next_run(datetime.now(UTC), hour)


@contextlib.asynccontextmanager
async def running(
    sessions: async_sessionmaker[AsyncSession], *, enabled: bool, hour: int
) -> AsyncIterator[None]:
    """The nightly job in the background for the lifetime of the block (when `enabled`)."""
    if not enabled:
        yield
        return
    task = asyncio.create_task(_loop(sessions, hour), name="nightly-scoring")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
