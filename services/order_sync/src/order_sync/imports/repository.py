from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.imports.models import ImportJob, ImportRowError

_jobs = ImportJob.__table__  # type: ignore[attr-defined, unused-ignore]
_errors = ImportRowError.__table__  # type: ignore[attr-defined, unused-ignore]


async def add(*, session: AsyncSession, job: ImportJob) -> None:
    await session.execute(insert(_jobs).values(job.model_dump()))


async def get(*, session: AsyncSession, import_id: str) -> ImportJob | None:
    # populate_existing: a job is re-read after statements that changed it behind the ORM.
    result = await session.execute(
        select(ImportJob)
        .where(_jobs.c.import_id == import_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def lock(*, session: AsyncSession, import_id: str) -> ImportJob | None:
    result = await session.execute(
        select(ImportJob)
        .where(_jobs.c.import_id == import_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def set_fields(*, session: AsyncSession, import_id: str, **values: Any) -> None:
    await session.execute(update(_jobs).where(_jobs.c.import_id == import_id).values(**values))


async def add_progress(
    *,
    session: AsyncSession,
    import_id: str,
    counts: dict[str, int],
    last_committed_row: int,
    now: datetime,
) -> None:
    """Add `counts` (column name to increment) and move the committed row, in one statement."""
    await session.execute(
        update(_jobs)
        .where(_jobs.c.import_id == import_id)
        .values(
            {
                **{name: _jobs.c[name] + value for name, value in counts.items()},
                "last_committed_row": last_committed_row,
                "updated_at": now,
            }
        )
    )


async def add_errors(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(_errors), list(rows))


async def list_errors(
    *, session: AsyncSession, import_id: str, after: tuple[int, int] | None, limit: int
) -> list[ImportRowError]:
    c = _errors.c
    query = select(ImportRowError).where(c.import_id == import_id)
    if after is not None:
        query = query.where(tuple_(c.row, c.position) > tuple_(*after))
    query = query.order_by(c.row, c.position).limit(limit)
    return list((await session.execute(query)).scalars())


async def unfinished(*, session: AsyncSession, origin: str) -> list[str]:
    """The ids of the jobs of `origin` that are queued or running, oldest first."""
    rows = await session.execute(
        select(_jobs.c.import_id)
        .where(_jobs.c.origin == origin, _jobs.c.status.in_(("queued", "running")))
        .order_by(_jobs.c.created_at)
    )
    return list(rows.scalars())


@dataclass(frozen=True, slots=True)
class StoreImports:
    in_progress: int
    completed: int
    failed: int
    orders_rejected: int
    last_finished_at: datetime | None


async def store_summary(*, session: AsyncSession, store_id: str) -> StoreImports:
    c = _jobs.c

    def count_of(*statuses: str) -> Any:
        return func.count(case((c.status.in_(statuses), 1)))

    row = (
        await session.execute(
            select(
                count_of("queued", "running"),
                count_of("completed"),
                count_of("failed"),
                func.coalesce(func.sum(c.orders_rejected), 0),
                func.max(c.finished_at),
            ).where(c.store_id == store_id)
        )
    ).one()
    return StoreImports(int(row[0]), int(row[1]), int(row[2]), int(row[3]), row[4])
