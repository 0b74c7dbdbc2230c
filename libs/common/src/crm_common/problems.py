"""RFC 9457 problem details: every error a client sees has this shape."""

from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """Raise from a route or a service to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.errors = errors
        self.headers = headers

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        return body


class NotFound(ProblemError):
    def __init__(self, what: str) -> None:
        super().__init__(404, f"{what} not found")


class Unauthorized(ProblemError):
    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ProblemError):
    def __init__(self, detail: str) -> None:
        super().__init__(403, detail)
