from datetime import datetime
from typing import Any

from crm_common.http import Text
from crm_events.customer import IdentityKind
from pydantic import BaseModel, ConfigDict, Field

from customer_profile.customers.schemas import CustomerRead
from customer_profile.merges.models import MergeLogEntry, MergeSuggestion


class MergeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merge_with: Text = Field(min_length=1)
    """The customer merged into the one in the path, which survives."""
    note: Text | None = Field(default=None, max_length=2000)


class UndoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text | None = Field(default=None, max_length=2000)


class IdentityValue(BaseModel):
    kind: IdentityKind
    value: str
    store_id: str | None


class MergeRead(BaseModel):
    entry_id: str
    action: str
    """`merge` or `undo`."""
    merge_id: str
    survivor_id: str
    merged_id: str
    at: datetime
    actor: str
    reason: str
    note: str | None
    identity: IdentityValue | None
    """The identity that joined the customers (automatic merges)."""
    identities: list[IdentityValue]
    """What moved: to the survivor for a merge, back to the merged customer for an undo."""
    order_ids: list[str]
    fields_changed: dict[str, Any]
    undone_by: str | None = None
    """For a merge: the entry id of its undo, if it was undone."""

    @classmethod
    def of(cls, entry: MergeLogEntry, *, undone_by: str | None = None) -> "MergeRead":
        snapshot = entry.snapshot
        return cls(
            entry_id=entry.entry_id,
            action=entry.action,
            merge_id=entry.merge_id,
            survivor_id=entry.survivor_id,
            merged_id=entry.merged_id,
            at=entry.at,
            actor=entry.actor,
            reason=entry.reason,
            note=entry.note,
            identity=snapshot.get("identity"),
            identities=snapshot.get("identities", []),
            order_ids=snapshot.get("orders", []),
            fields_changed=snapshot.get("fields_changed", {}),
            undone_by=undone_by,
        )


class MergeLogPage(BaseModel):
    items: list[MergeRead]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last one."""


class SuggestionRead(BaseModel):
    suggestion_id: str
    status: str
    """`open`, `dismissed` or `merged`."""
    identity: IdentityValue
    """The shared identifier."""
    survivor_id: str
    """The older customer, the survivor an automatic merge would keep."""
    merged_id: str
    customers: list[CustomerRead]
    """Both customers as they are now (one may have been merged elsewhere since)."""
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    merge_id: str | None

    @classmethod
    def of(cls, suggestion: MergeSuggestion, customers: list[CustomerRead]) -> "SuggestionRead":
        return cls(
            suggestion_id=suggestion.suggestion_id,
            status=suggestion.status,
            identity=IdentityValue(
                kind=IdentityKind(suggestion.identity_kind),
                value=suggestion.identity_value,
                store_id=suggestion.identity_store_id,
            ),
            survivor_id=suggestion.survivor_id,
            merged_id=suggestion.merged_id,
            customers=customers,
            created_at=suggestion.created_at,
            resolved_at=suggestion.resolved_at,
            resolved_by=suggestion.resolved_by,
            merge_id=suggestion.merge_id,
        )


class SuggestionPage(BaseModel):
    items: list[SuggestionRead]
    next_cursor: str | None
