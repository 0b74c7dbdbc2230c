from crm_common.problems import NotFound, ProblemError


class TicketNotFound(NotFound):
    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"ticket {ticket_id}")


class AttachmentNotFound(NotFound):
    def __init__(self, attachment_id: str) -> None:
        super().__init__(f"attachment {attachment_id}")


class InvalidTicket(ProblemError):
    """Input the schema accepts but the ticket's rules refuse (422), naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            422,
            f"the request is invalid: {field}",
            title="Invalid request",
            errors=[{"field": field, "message": message}],
        )


class VersionConflict(ProblemError):
    def __init__(self, ticket_id: str, current: int) -> None:
        super().__init__(
            409,
            f"ticket {ticket_id} changed meanwhile: it is at version {current}; read it again",
            errors=[{"field": "version", "message": f"the ticket is at version {current}"}],
        )


class InvalidCursor(ProblemError):
    def __init__(self, reason: str) -> None:
        super().__init__(
            422,
            f"the cursor is not usable: {reason}",
            title="Invalid request",
            errors=[{"field": "cursor", "message": reason}],
        )
