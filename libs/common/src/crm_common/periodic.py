"""Background work a service repeats for as long as it runs: sweeps, retention, refreshes."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from crm_common.http import Lifespan

logger = logging.getLogger(__name__)


class Periodic:
    """Runs `work` now and then every `interval` seconds after each run ends (or as soon as
    `wake()` is called), until stopped.

    A run that fails is logged and tried again at the next tick: the work must leave nothing
    half done when it raises (one transaction per step), which is what keeps the loop safe to
    run on every replica at once.
    """

    def __init__(self, name: str, work: Callable[[], Awaitable[object]], *, interval: float):
        self.name = name
        self._work = work
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def around(self, lifespan: Lifespan) -> Lifespan:
        """`lifespan` with the work running inside it (after the migrations it needs)."""

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
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Run the work again without waiting for the rest of the interval."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            # Cleared before the run, so a wake during it brings the next run at once.
            self._wake.clear()
            try:
                await self._work()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s failed; trying again in %s s", self.name, self._interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
