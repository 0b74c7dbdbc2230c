from collections.abc import Sequence

from crm_common.problems import ProblemError


class MergeNotFound(ProblemError):
    """No merge (or suggestion, or customer) by that id: 404 naming it."""

    def __init__(self, what: str, field: str) -> None:
        super().__init__(
            404,
            f"{what} not found",
            errors=[{"field": field, "message": "not found", "type": "not_found"}],
        )


class MergeConflict(ProblemError):
    """The request contradicts the state of the merge log: 409 naming the field at fault."""

    def __init__(self, detail: str, field: str, **extra: object) -> None:
        super().__init__(
            409,
            detail,
            errors=[{"field": field, "message": detail, "type": "conflict", **extra}],
        )


class UndoBlocked(MergeConflict):
    """Later merges still in effect build on this one; undo them first (newest first)."""

    def __init__(self, merge_id: str, blocking: Sequence[str]) -> None:
        super().__init__(
            f"merge {merge_id} cannot be undone while later merges of the same customers are "
            f"in effect; undo them first, newest first: {', '.join(reversed(blocking))}",
            "path.merge_id",
            blocking_merge_ids=list(blocking),
        )
        self.blocking = list(blocking)


class InvalidMerge(ProblemError):
    """A merge request that cannot mean anything (a customer merged with itself): 422."""

    def __init__(self, detail: str, field: str) -> None:
        super().__init__(
            422,
            detail,
            title="Invalid request",
            errors=[{"field": field, "message": detail, "type": "invalid_merge"}],
        )


class InvalidCursor(ProblemError):
    def __init__(self) -> None:
        super().__init__(
            422,
            "cursor is not one this API handed out",
            title="Invalid request",
            errors=[{"field": "query.cursor", "message": "invalid cursor", "type": "cursor"}],
        )
