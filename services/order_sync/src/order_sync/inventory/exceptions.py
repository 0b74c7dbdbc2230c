from crm_common.problems import NotFound, ProblemError


class StockLevelNotFound(NotFound):
    def __init__(self, store_id: str, sku: str) -> None:
        super().__init__(f"the stock level of SKU {sku} in store {store_id}")


class InvalidStockRequest(ProblemError):
    """A request naming no usable store, or a bad cursor (422 on the field at fault)."""

    def __init__(self, field: str, message: str, *, type_: str | None = None) -> None:
        error: dict[str, str] = {"field": field, "message": message}
        if type_ is not None:
            error["type"] = type_
        super().__init__(
            422, f"the request is invalid: {field}", title="Invalid request", errors=[error]
        )
