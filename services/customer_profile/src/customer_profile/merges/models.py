from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

from customer_profile.pii import EncryptedJSON, EncryptedText


class MergeLogEntry(SQLModel, table=True):
    """One merge or one undo of a merge. Rows are only ever added: a merge is in effect until an
    `undo` entry with its `merge_id` follows."""

    __tablename__ = "merge_log"

    seq: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    entry_id: str = Field(unique=True, index=True)
    action: str
    """`merge` or `undo`."""
    merge_id: str = Field(index=True)
    """The merge: this entry's own id for a merge, the merge it reverses for an undo."""
    survivor_id: str = Field(index=True)
    merged_id: str = Field(index=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str
    """`system` for merges the resolution made, else the JWT subject of the admin."""
    reason: str
    """`identity` (an order's identities matched both), `manual`, or `undo`."""
    note: str | None = Field(default=None, sa_column=Column(EncryptedText("merge_log.note")))
    """Free text from the admin (encrypted: it may name the person)."""
    snapshot: dict[str, Any] = Field(
        sa_column=Column(EncryptedJSON("merge_log.snapshot"), nullable=False)
    )
    """What moved and what both customers looked like before: enough to undo the merge.
    Encrypted as a whole: it holds contact data and identity values."""


class MergeSuggestion(SQLModel, table=True):
    """Two customers that share an identity too widely shared to merge them automatically."""

    __tablename__ = "merge_suggestions"
    __table_args__ = (
        UniqueConstraint(
            "survivor_id", "merged_id", "identity_digest", name="uq_merge_suggestions_pair"
        ),
    )

    suggestion_id: str = Field(primary_key=True)
    survivor_id: str = Field(index=True)
    """The older of the two, who would survive an automatic merge."""
    merged_id: str = Field(index=True)
    identity_kind: str
    identity_store_id: str | None = None
    identity_value: str = Field(
        sa_column=Column(EncryptedText("merge_suggestions.identity_value"), nullable=False)
    )
    identity_digest: str
    """The keyed digest of the identity (`identities.digest`)."""
    status: str = Field(index=True)
    """`open`, `dismissed`, or `merged` (by `merge_id`)."""
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    resolved_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    resolved_by: str | None = None
    merge_id: str | None = None
