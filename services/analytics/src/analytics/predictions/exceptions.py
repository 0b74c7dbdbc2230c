from datetime import datetime

from crm_common.envelope import format_rfc3339
from crm_common.problems import NotFound


class NothingToFit(NotFound):
    """A store without orders (before the end of observation) has no history to fit."""

    def __init__(self, store_id: str, until: datetime) -> None:
        super().__init__(f"orders of store {store_id!r} before {format_rfc3339(until)}")


class NoModel(NotFound):
    def __init__(self, store_id: str) -> None:
        super().__init__(f"a lifetime-value model of store {store_id!r}")


class NoPredictions(NotFound):
    def __init__(self, customer_id: str) -> None:
        super().__init__(f"predictions of customer {customer_id!r}")
