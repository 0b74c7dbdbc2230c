from crm_common.problems import NotFound, ProblemError


class StoreAlreadyExists(ProblemError):
    def __init__(self, store_id: str) -> None:
        super().__init__(409, f"store {store_id} is already registered", title="Store exists")


class StoreNotFound(NotFound):
    def __init__(self, store_id: str) -> None:
        super().__init__(f"store {store_id}")
