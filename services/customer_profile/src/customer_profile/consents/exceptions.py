from datetime import datetime

from crm_common.envelope import format_rfc3339
from crm_common.problems import ProblemError


class ConsentOverridden(ProblemError):
    """A decision older than the explicit one in force: 409, nothing is recorded."""

    def __init__(self, in_force_since: datetime, source: str) -> None:
        super().__init__(
            409,
            f"a newer decision (source {source}, taken at {format_rfc3339(in_force_since)}) "
            "is in force; this older one is not recorded",
            title="Older consent decision",
            errors=[
                {
                    "field": "changed_at",
                    "message": "older than the decision in force",
                    "type": "consent_overridden",
                }
            ],
        )
