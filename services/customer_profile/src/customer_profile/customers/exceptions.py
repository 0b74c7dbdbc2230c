from typing import Any

from crm_common.problems import ProblemError


class NoUsableIdentity(ValueError):
    """An order whose buyer has no valid email, phone or shop customer id; no retry can help."""

    def __init__(self, order_id: str) -> None:
        super().__init__(
            f"order {order_id}: the customer has no valid email, phone or shop customer id"
        )


class InvalidLookup(ProblemError):
    """A customer lookup with no, several or malformed keys: 422."""

    def __init__(self, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(422, detail, title="Invalid request", errors=errors)
