"""Import jobs: creating them, applying their files chunk by chunk, and reporting progress.

A chunk's orders, its row errors and the job's counters and committed row all change in the
caller's one transaction, so a job interrupted anywhere resumes exactly after its last chunk.
"""

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from crm_events.shop import CanonicalOrder
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.imports import repository
from order_sync.imports.exceptions import ImportFinished, ImportNotFound, UnknownImportStore
from order_sync.imports.models import ImportJob, ImportRowError
from order_sync.imports.parsing import Record, RowProblem
from order_sync.imports.schemas import (
    ImportFormat,
    ImportOrigin,
    ImportRead,
    ImportStatus,
    RowError,
    RowErrorPage,
)
from order_sync.orders.bulk import upsert_orders
from order_sync.orders.exceptions import InvalidCursor
from order_sync.orders.schemas import Channel, UpsertStatus
from order_sync.orders.validation import Rejected, validate_order
from order_sync.stores.service import find_store

ERRORS_SHOWN = 100


@dataclass(frozen=True, slots=True)
class CheckedRecord:
    """A record and, when it is a valid order, that order; otherwise the problems found."""

    record: Record
    order: CanonicalOrder | None
    problems: tuple[RowProblem, ...]


def check(record: Record, *, store_id: str) -> CheckedRecord:
    """Validate one record as an order of `store_id` (pure: fit for a worker thread)."""
    if record.problems or record.raw is None:
        return CheckedRecord(record, None, record.problems)
    result = validate_order(record.raw, store_id=store_id)
    if isinstance(result, Rejected):
        return CheckedRecord(record, None, _located(record, result))
    return CheckedRecord(record, result, ())


async def create_job(
    *,
    session: AsyncSession,
    store_id: str,
    fmt: ImportFormat,
    origin: ImportOrigin,
    file_path: Path,
    file_name: str | None,
    file_bytes: int,
    import_id: str | None = None,
) -> ImportJob:
    """A queued job for `file_path`; raises `UnknownImportStore`."""
    await ensure_store(session=session, store_id=store_id)
    now = datetime.now(UTC)
    job = ImportJob(
        import_id=import_id or str(uuid4()),
        store_id=store_id,
        format=fmt.value,
        origin=origin.value,
        status=ImportStatus.QUEUED.value,
        file_path=str(file_path),
        file_name=file_name,
        file_bytes=file_bytes,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session=session, job=job)
    return job


async def ensure_store(*, session: AsyncSession, store_id: str) -> None:
    """Raises `UnknownImportStore` unless `store_id` is registered."""
    if await find_store(session=session, store_id=store_id) is None:
        raise UnknownImportStore(store_id)


async def get_job(*, session: AsyncSession, import_id: str) -> ImportJob:
    """Raises `ImportNotFound`."""
    job = await repository.get(session=session, import_id=import_id)
    if job is None:
        raise ImportNotFound(import_id)
    return job


async def start_job(*, session: AsyncSession, import_id: str) -> ImportJob:
    """Mark a queued (or interrupted) job running; a finished job is returned as it is."""
    job = await repository.lock(session=session, import_id=import_id)
    if job is None:
        raise ImportNotFound(import_id)
    if job.status in (ImportStatus.COMPLETED, ImportStatus.FAILED):
        return job
    now = datetime.now(UTC)
    await repository.set_fields(
        session=session,
        import_id=import_id,
        status=ImportStatus.RUNNING.value,
        started_at=job.started_at or now,
        updated_at=now,
    )
    return await get_job(session=session, import_id=import_id)


async def apply_chunk(
    *,
    session: AsyncSession,
    job: ImportJob,
    chunk: Sequence[CheckedRecord],
    topic: str,
    max_stored_errors: int,
) -> None:
    """Store the chunk's valid orders, record its errors and move the job past it."""
    valid = [item for item in chunk if item.order is not None]
    orders = [item.order for item in valid if item.order is not None]
    outcomes = await upsert_orders(
        session=session, orders=orders, topic=topic, channels=[Channel.IMPORT] * len(orders)
    )
    problems = {id(item.record): item.problems for item in chunk if item.problems}
    counts = dict.fromkeys(("created", "updated", "unchanged", "rejected"), 0)
    for item, outcome in zip(valid, outcomes, strict=True):
        if isinstance(outcome, Rejected):
            problems[id(item.record)] = _located(item.record, outcome)
        else:
            counts[_COUNTED[outcome.status]] += 1
    counts["rejected"] = len(problems)
    errors = [problem for item in chunk for problem in problems.get(id(item.record), ())]
    job = await get_job(session=session, import_id=job.import_id)
    room = max(0, max_stored_errors - min(job.errors_total, max_stored_errors))
    await repository.add_errors(session=session, rows=_error_rows(job.import_id, errors[:room]))
    await repository.add_progress(
        session=session,
        import_id=job.import_id,
        counts={
            "rows_read": sum(item.record.rows for item in chunk),
            "orders_read": len(chunk),
            "orders_created": counts["created"],
            "orders_updated": counts["updated"],
            "orders_unchanged": counts["unchanged"],
            "orders_rejected": counts["rejected"],
            "errors_total": len(errors),
        },
        last_committed_row=max(item.record.last_row for item in chunk),
        now=datetime.now(UTC),
    )


_COUNTED = {
    UpsertStatus.CREATED: "created",
    UpsertStatus.UPDATED: "updated",
    UpsertStatus.UNCHANGED: "unchanged",
}


async def finish_job(*, session: AsyncSession, import_id: str) -> ImportJob:
    now = datetime.now(UTC)
    await repository.set_fields(
        session=session,
        import_id=import_id,
        status=ImportStatus.COMPLETED.value,
        finished_at=now,
        updated_at=now,
    )
    return await get_job(session=session, import_id=import_id)


async def fail_job(*, session: AsyncSession, import_id: str, reason: str) -> ImportJob:
    now = datetime.now(UTC)
    await repository.set_fields(
        session=session,
        import_id=import_id,
        status=ImportStatus.FAILED.value,
        failure=reason[:2000],
        finished_at=now,
        updated_at=now,
    )
    return await get_job(session=session, import_id=import_id)


async def request_resume(*, session: AsyncSession, import_id: str) -> ImportJob:
    """Queue a failed or interrupted job again; raises `ImportFinished` for a completed one."""
    job = await repository.lock(session=session, import_id=import_id)
    if job is None:
        raise ImportNotFound(import_id)
    if job.status == ImportStatus.COMPLETED:
        raise ImportFinished(import_id)
    if job.status == ImportStatus.FAILED:
        await repository.set_fields(
            session=session,
            import_id=import_id,
            status=ImportStatus.QUEUED.value,
            failure=None,
            finished_at=None,
            updated_at=datetime.now(UTC),
        )
    return await get_job(session=session, import_id=import_id)


async def unfinished_jobs(*, session: AsyncSession, origin: ImportOrigin) -> list[str]:
    """Jobs of `origin` left queued or running (by a process that stopped), oldest first."""
    return await repository.unfinished(session=session, origin=origin.value)


async def read_job(*, session: AsyncSession, import_id: str) -> ImportRead:
    """The job, its progress and its first errors; raises `ImportNotFound`."""
    job = await get_job(session=session, import_id=import_id)
    errors = await repository.list_errors(
        session=session, import_id=import_id, after=None, limit=ERRORS_SHOWN
    )
    return to_read(job, errors)


async def list_errors(
    *, session: AsyncSession, import_id: str, cursor: str | None, limit: int
) -> RowErrorPage:
    """A page of the job's stored row errors, by row; raises `ImportNotFound`, `InvalidCursor`."""
    await get_job(session=session, import_id=import_id)
    after = _decode(cursor) if cursor else None
    rows = await repository.list_errors(
        session=session, import_id=import_id, after=after, limit=limit + 1
    )
    page = rows[:limit]
    last = page[-1] if len(rows) > limit else None
    return RowErrorPage(
        errors=[RowError(row=e.row, field=e.field, message=e.message) for e in page],
        next_cursor=_encode(last.row, last.position) if last else None,
    )


def to_read(job: ImportJob, errors: Sequence[ImportRowError]) -> ImportRead:
    return ImportRead(
        **job.model_dump(exclude={"file_path"}),
        errors=[RowError(row=e.row, field=e.field, message=e.message) for e in errors],
    )


def _located(record: Record, rejected: Rejected) -> tuple[RowProblem, ...]:
    return tuple(RowProblem(*record.locate(p.loc), p.message) for p in rejected.problems)


def _error_rows(import_id: str, problems: Sequence[RowProblem]) -> list[dict[str, object]]:
    positions: dict[int, int] = {}
    rows = []
    for problem in problems:
        position = positions.get(problem.row, 0)
        positions[problem.row] = position + 1
        rows.append(
            {
                "import_id": import_id,
                "row": problem.row,
                "position": position,
                "field": problem.field,
                "message": problem.message,
            }
        )
    return rows


def _encode(row: int, position: int) -> str:
    return base64.urlsafe_b64encode(f"{row}.{position}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        row, position = raw.split(".")
        return int(row), int(position)
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor("not a cursor this API issued") from error
