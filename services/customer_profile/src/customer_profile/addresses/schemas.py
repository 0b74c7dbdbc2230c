from datetime import datetime

from pydantic import BaseModel


class AddressRead(BaseModel):
    """One place a customer's orders went to or were billed at, however often it was typed."""

    kinds: list[str]
    """`billing` and/or `shipping`."""
    name: str | None
    line1: str | None
    line2: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None
    """As on the newest order with this address."""
    first_seen_at: datetime
    last_seen_at: datetime
    """When the oldest and the newest order with this address were placed."""
    orders: int
    """How many of the customer's orders name it."""
