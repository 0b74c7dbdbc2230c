from datetime import datetime

from pydantic import BaseModel


class CustomerRead(BaseModel):
    customer_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    merged_into: str | None
    erased: bool
    updated_at: datetime
