from crm_common.problems import NotFound, ProblemError


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
