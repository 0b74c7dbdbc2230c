from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, String
from sqlmodel import Field, SQLModel


class ImportJob(SQLModel, table=True):
    """One file being imported for one store, with its progress.

    Everything up to `last_committed_row` has been applied and counted in the same transaction
    that moved it, so a resumed job starts after it and neither re-applies nor re-counts.
    """

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_store_status", "store_id", "status"),)

    import_id: str = Field(primary_key=True, max_length=36)
    store_id: str = Field(
        sa_column=Column(String(64), ForeignKey("stores.store_id"), nullable=False)
    )
    format: str = Field(max_length=8)
    """`csv` or `ndjson`."""
    origin: str = Field(max_length=8)
    """`api` (spooled upload, resumed by the service) or `cli` (a file the command line read)."""
    status: str = Field(max_length=16)
    file_path: str
    file_name: str | None = None
    file_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    rows_read: int = 0
    orders_read: int = 0
    orders_created: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    orders_rejected: int = 0
    errors_total: int = 0
    """Every error found, including those beyond the stored cap."""
    last_committed_row: int = 0
    failure: str | None = None
    """Why the job failed (the file, not a row: rows are rejected one by one)."""
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    started_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ImportRowError(SQLModel, table=True):
    """Why one row (or one field of it) was rejected."""

    __tablename__ = "import_errors"

    import_id: str = Field(
        sa_column=Column(
            String(36),
            ForeignKey("import_jobs.import_id", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    row: int = Field(primary_key=True)
    """The line of an NDJSON file, or the CSV row counting the header as row 1."""
    position: int = Field(primary_key=True)
    field: str
    message: str
