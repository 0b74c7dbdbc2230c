from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class ImportFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"


# What a file's name says of its format when nothing else does.
FORMAT_BY_EXTENSION = {
    ".csv": ImportFormat.CSV,
    ".ndjson": ImportFormat.NDJSON,
    ".jsonl": ImportFormat.NDJSON,
}


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ImportOrigin(StrEnum):
    API = "api"
    CLI = "cli"


class RowError(BaseModel):
    """Why a row was rejected: its number, the column (CSV) or field path (NDJSON) at fault,
    empty for the row as a whole, and the reason."""

    row: int
    field: str
    message: str


class ImportRead(BaseModel):
    """An import job and its progress; the counts cover every committed chunk."""

    import_id: str
    store_id: str
    format: ImportFormat
    origin: ImportOrigin
    status: ImportStatus
    file_name: str | None
    file_bytes: int
    rows_read: int
    """Data rows read (NDJSON lines, CSV rows; blank ones are skipped)."""
    orders_read: int
    """Orders those rows made (equal to `rows_read` for NDJSON; a CSV order spans its lines)."""
    orders_created: int
    orders_updated: int
    orders_unchanged: int
    orders_rejected: int
    last_committed_row: int
    """Everything up to this row is applied; a resumed job continues after it."""
    errors_total: int
    errors: list[RowError]
    """The first errors, by row; page through all of them at `/v1/imports/{id}/errors`."""
    failure: str | None
    """Why the job failed, when it did (bad rows do not fail a job)."""
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class RowErrorPage(BaseModel):
    errors: list[RowError]
    next_cursor: str | None
    """Pass it as `cursor` for the next page; null at the end."""
