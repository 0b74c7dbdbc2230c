"""Running import jobs: one file, chunk after chunk, each chunk one transaction.

A job runs under a PostgreSQL advisory lock held by a transaction of its own connection, so
one job never runs twice at once (in two replicas, or the service and the command line), and
the lock goes with the connection if the process dies.
"""

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from crm_common.db import transaction
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from order_sync.config import Settings
from order_sync.imports import service
from order_sync.imports.models import ImportJob
from order_sync.imports.parsing import read_records
from order_sync.imports.schemas import ImportFormat, ImportOrigin, ImportStatus

logger = logging.getLogger(__name__)

_LOCK_CLASS = 7_354_031


async def run_import(
    *,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    import_id: str,
    settings: Settings,
    after_chunk: Callable[[ImportJob], None] | None = None,
) -> ImportJob | None:
    """Run a job from where it stands to its end; None when another runner holds it.

    A file that cannot be read fails the job (its committed chunks stay); the job can be
    resumed once the cause is fixed. Rows that are invalid never fail it.
    """
    async with engine.connect() as connection:
        locked = await connection.scalar(
            select(func.pg_try_advisory_xact_lock(_LOCK_CLASS, func.hashtext(import_id)))
        )
        if not locked:
            return None
        async with transaction(sessions) as session:
            job = await service.start_job(session=session, import_id=import_id)
        if job.status != ImportStatus.RUNNING:
            return job
        try:
            await _apply_file(job, sessions=sessions, settings=settings, after_chunk=after_chunk)
        except asyncio.CancelledError:
            raise  # a stopping process: the job stays running, to be resumed
        except Exception as error:
            logger.exception("import failed", extra={"import_id": import_id})
            async with transaction(sessions) as session:
                return await service.fail_job(
                    session=session, import_id=import_id, reason=f"{type(error).__name__}: {error}"
                )
        async with transaction(sessions) as session:
            finished = await service.finish_job(session=session, import_id=import_id)
        if finished.origin == ImportOrigin.API:
            # The spooled upload is ours; a file the command line named belongs to its owner.
            Path(finished.file_path).unlink(missing_ok=True)
        return finished


async def _apply_file(
    job: ImportJob,
    *,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    after_chunk: Callable[[ImportJob], None] | None,
) -> None:
    fmt = ImportFormat(job.format)
    # Opened here but read only in worker threads (`_take`), chunk by chunk.
    with open(job.file_path, "rb") as stream:
        records = (
            service.check(record, store_id=job.store_id)
            for record in read_records(stream, fmt)
            if record.last_row > job.last_committed_row
        )
        while chunk := await asyncio.to_thread(_take, records, settings.import_chunk_size):
            async with transaction(sessions) as session:
                await service.apply_chunk(
                    session=session,
                    job=job,
                    chunk=chunk,
                    topic=settings.orders_topic,
                    max_stored_errors=settings.import_max_stored_errors,
                )
            if after_chunk is not None:
                after_chunk(job)


def _take(records: Iterator[service.CheckedRecord], count: int) -> list[service.CheckedRecord]:
    # Reading, parsing and validating happen here, off the event loop.
    return list(itertools.islice(records, count))


class ImportRunner:
    """Runs the service's import jobs one at a time, in the background; on start it resumes
    the jobs a previous process left queued or running."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        after_chunk: Callable[[ImportJob], None] | None = None,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._settings = settings
        self._after_chunk = after_chunk
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="import-runner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def submit(self, import_id: str) -> None:
        self._queue.put_nowait(import_id)

    async def _run(self) -> None:
        if self._settings.import_resume_on_start:
            try:
                async with self._sessions() as session:
                    unfinished = await service.unfinished_jobs(
                        session=session, origin=ImportOrigin.API
                    )
            except Exception:
                # The jobs stay as they are; a resume request or the next start picks them up.
                logger.exception("could not look for imports to resume")
                unfinished = []
            for import_id in unfinished:
                self.submit(import_id)
        while True:
            import_id = await self._queue.get()
            try:
                await run_import(
                    engine=self._engine,
                    sessions=self._sessions,
                    import_id=import_id,
                    settings=self._settings,
                    after_chunk=self._after_chunk,
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database itself failed: the job stays as it was, for a resume.
                logger.exception("import runner error", extra={"import_id": import_id})
