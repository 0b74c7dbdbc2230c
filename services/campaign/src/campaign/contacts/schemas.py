from datetime import datetime

from pydantic import BaseModel


class ContactRead(BaseModel):
    customer_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    accepts_marketing: bool
    merged_into: str | None
    erased: bool
    updated_at: datetime
