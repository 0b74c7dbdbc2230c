from datetime import datetime
from typing import Any

from crm_common.envelope import format_rfc3339
from crm_common.problems import ProblemError

ERASED: dict[int | str, dict[str, Any]] = {
    410: {"description": "the customer was erased: nothing personal is left to show or change"}
}
"""The `responses=` entry of a route answering `CustomerGone`."""


class CustomerGone(ProblemError):
    """The customer was erased: 410, the tombstone holds nothing personal to show or change."""

    def __init__(self, customer_id: str, erased_at: datetime) -> None:
        super().__init__(
            410, f"customer {customer_id} was erased at {format_rfc3339(erased_at)}", title="Gone"
        )


class MergedIntoAnother(ProblemError):
    """A customer merged into another: its personal data now lives with the survivor, which is
    where to export, erase or change it (409)."""

    def __init__(self, customer_id: str, survivor_id: str, *, action: str) -> None:
        super().__init__(
            409,
            f"customer {customer_id} was merged into {survivor_id}, which now holds its personal "
            f"data: {action} {survivor_id} instead (that covers {customer_id} too)",
            title="Merged customer",
            errors=[
                {
                    "field": "path.customer_id",
                    "message": f"merged into {survivor_id}",
                    "type": "merged_customer",
                    "survivor_id": survivor_id,
                }
            ],
        )
        self.survivor_id = survivor_id
