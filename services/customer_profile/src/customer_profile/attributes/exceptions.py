from crm_common.problems import ProblemError

MERGE_PATCH_JSON = "application/merge-patch+json"


class InvalidAttributes(ProblemError):
    """Tags or traits that break a bound once the patch is applied: 422 naming the field."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(
            422,
            detail,
            title="Invalid request",
            errors=[{"field": field, "message": detail, "type": "invalid_attributes"}],
        )


class NotMergePatch(ProblemError):
    """A PATCH body in another media type than JSON merge patch: 415."""

    def __init__(self, content_type: str) -> None:
        super().__init__(
            415,
            f"PATCH takes {MERGE_PATCH_JSON}, not {content_type or 'no content type'}",
            headers={"Accept-Patch": MERGE_PATCH_JSON},
        )
