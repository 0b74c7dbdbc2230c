from crm_common.problems import NotFound, ProblemError


class DeliveryNotFound(NotFound):
    def __init__(self, delivery: int) -> None:
        super().__init__(f"webhook delivery {delivery}")


class NotReplayable(ProblemError):
    """A stored delivery with nothing to replay: rejected, its body purged, or no topic."""

    def __init__(self, delivery: int, reason: str) -> None:
        super().__init__(
            409,
            f"webhook delivery {delivery} cannot be replayed: {reason}",
            title="Not replayable",
        )


class InvalidCursor(ProblemError):
    def __init__(self, reason: str) -> None:
        super().__init__(
            422,
            f"the cursor is not usable: {reason}",
            title="Invalid request",
            errors=[{"field": "cursor", "message": reason}],
        )
