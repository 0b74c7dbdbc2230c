from datetime import datetime

from pydantic import BaseModel

from customer_profile.customers.schemas import CustomerRead


class CustomerPage(BaseModel):
    items: list[CustomerRead]
    """Contact data, statistics, lifecycle stage, value tier, tags and traits; `identities`,
    `rfm` and `addresses` are left empty (they are on `GET /v1/customers/{id}`)."""
    next_cursor: str | None
    """Pass as `cursor` (with the same filters) for the next page; null on the last page."""
    as_of: datetime
    """The instant lifecycle stages are evaluated at, the same for every page of a search."""
