from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

COLLECTION = "customers"


class Customer(BaseModel):
    """A customer as support agents need them; one document per customer id (its `_id`)."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    customer_id: str = Field(alias="_id")
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    merged_into: str | None = None
    """The surviving customer id once this one was merged into it."""
    erased: bool = False
    """A tombstone: personal data blanked for good."""
    version: int = 0
    """customer-profile's version of the data held; 0 before any snapshot arrived."""
    updated_at: datetime
