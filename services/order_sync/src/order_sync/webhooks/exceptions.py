from crm_common.problems import ProblemError

from order_sync.connectors._fields import FieldProblem


class WebhookSecretMissing(ProblemError):
    def __init__(self, store_id: str) -> None:
        super().__init__(
            409,
            f"store {store_id} has no webhook_secret, so no signature can be checked; "
            "register the store with the secret its platform signs webhooks with",
            title="Webhooks not configured",
        )


class WrongPlatform(ProblemError):
    def __init__(self, store_id: str, platform: str, route: str) -> None:
        super().__init__(
            409,
            f"store {store_id} is a {platform} store, not a {route} one",
            title="Wrong platform",
        )


class InvalidSignature(ProblemError):
    def __init__(self, header: str, *, missing: bool) -> None:
        problem = "is missing" if missing else "does not match the body"
        super().__init__(
            401,
            f"the {header} signature {problem}",
            title="Invalid signature",
            errors=[{"field": f"header.{header}", "message": problem, "type": "invalid_signature"}],
        )


class MissingHeaders(ProblemError):
    def __init__(self, headers: list[str]) -> None:
        super().__init__(
            422,
            "required webhook headers are missing: " + ", ".join(headers),
            title="Invalid request",
            errors=[
                {"field": f"header.{name}", "message": "required", "type": "missing"}
                for name in headers
            ],
        )


class MalformedPayload(ProblemError):
    """A signed payload that does not map to its canonical form (an order, a checkout, a customer
    account); each field named by its path."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        fields = ", ".join(dict.fromkeys(p.field for p in problems))
        super().__init__(
            422,
            f"the payload cannot be mapped to its canonical form: {fields}",
            title="Invalid request",
            errors=[
                {"field": p.field, "message": p.message, "type": "unmappable"} for p in problems
            ],
        )
