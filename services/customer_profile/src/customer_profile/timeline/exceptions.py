from crm_common.problems import ProblemError


class InvalidCursor(ProblemError):
    """A page cursor this API did not hand out: 422 naming the parameter."""

    def __init__(self) -> None:
        super().__init__(
            422,
            "cursor is not one this API handed out; start again without it",
            title="Invalid request",
            errors=[{"field": "query.cursor", "message": "invalid cursor", "type": "cursor"}],
        )
