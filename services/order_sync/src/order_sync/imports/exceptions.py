from crm_common.problems import NotFound, ProblemError


class ImportNotFound(NotFound):
    def __init__(self, import_id: str) -> None:
        super().__init__(f"import {import_id}")


class ImportFinished(ProblemError):
    def __init__(self, import_id: str) -> None:
        super().__init__(409, f"import {import_id} has completed; there is nothing to resume")


class UnknownImportStore(ProblemError):
    def __init__(self, store_id: str) -> None:
        super().__init__(
            422,
            f"store {store_id} is not registered",
            title="Invalid request",
            errors=[{"field": "query.store_id", "message": f"no store {store_id} is registered"}],
        )


class BadUpload(ProblemError):
    """The upload itself is unusable (422 naming the part at fault, 413 or 415)."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(
            status,
            message,
            errors=[{"field": field, "message": message}],
        )


class ImportFileError(Exception):
    """The file as a whole cannot be imported (its header, its encoding); the job fails."""
