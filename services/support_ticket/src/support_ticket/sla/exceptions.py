from crm_common.problems import NotFound, ProblemError


class CalendarNotFound(NotFound):
    def __init__(self, calendar_id: str) -> None:
        super().__init__(f"calendar {calendar_id}")


class InvalidSla(ProblemError):
    """A configuration the models accept but the stored one refuses (422), naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            422,
            f"the request is invalid: {field}",
            title="Invalid request",
            errors=[{"field": field, "message": message}],
        )
