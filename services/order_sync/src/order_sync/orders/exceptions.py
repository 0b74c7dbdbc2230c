from collections.abc import Sequence

from crm_common.problems import NotFound, ProblemError

from order_sync.orders.validation import OrderProblem


class UnknownStore(ProblemError):
    """An order names a store that is not registered (422 on the API, dead-lettered on Kafka)."""

    def __init__(self, store_id: str) -> None:
        super().__init__(
            422,
            f"store {store_id} is not registered",
            title="Invalid request",
            errors=[
                {
                    "field": "store_id",
                    "message": f"no store {store_id} is registered; register it first",
                    "type": "unknown_store",
                }
            ],
        )
        self.store_id = store_id


class OrderNotFound(NotFound):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id}")


class InvalidOrder(ProblemError):
    """An order the contract accepts but the database cannot store (422 on the API)."""

    def __init__(self, problems: Sequence[OrderProblem]) -> None:
        super().__init__(
            422,
            "the order cannot be stored: " + ", ".join(p.field for p in problems),
            title="Invalid request",
            errors=[{"field": p.field, "message": p.message} for p in problems],
        )


class InvalidCursor(ProblemError):
    def __init__(self, reason: str) -> None:
        super().__init__(
            422,
            f"the cursor is not usable: {reason}",
            title="Invalid request",
            errors=[{"field": "cursor", "message": reason}],
        )


class BadFilter(ProblemError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            422,
            f"the request is invalid: {field}",
            title="Invalid request",
            errors=[{"field": field, "message": message}],
        )
