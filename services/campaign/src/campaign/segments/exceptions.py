from crm_common.problems import ProblemError

from campaign.segments.definition import Location


class InvalidDefinition(ProblemError):
    """A definition valid on its own that names segments it cannot: unknown ones, or itself
    through others (422, naming the path to each `segment_id` at fault)."""

    def __init__(self, faults: list[tuple[Location, str]]) -> None:
        errors = [
            {
                "field": ".".join(str(part) for part in ("definition", *at)),
                "message": message,
                "type": "segment_reference",
            }
            for at, message in faults
        ]
        fields = ", ".join(error["field"] for error in errors)
        super().__init__(
            422, f"the definition is invalid: {fields}", title="Invalid request", errors=errors
        )
