from datetime import datetime

from pydantic import BaseModel, ConfigDict


class AddressRead(BaseModel):
    """One place a customer's orders went to or were billed at, or a shop account of theirs
    lists, however often it was typed."""

    # The field docstrings go into the OpenAPI schema: they say what the kinds and times mean.
    model_config = ConfigDict(use_attribute_docstrings=True)

    kinds: list[str]
    """Where it was seen, sorted: `shipping` and/or `billing` (on orders), `account` (listed on
    a shop customer account of the customer)."""
    name: str | None
    line1: str | None
    line2: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None
    """As on the newest order or account revision with this address (an order on a tie)."""
    first_seen_at: datetime
    last_seen_at: datetime
    """The oldest and newest time it was seen: an order's `placed_at`, an account revision's
    `updated_at` (the first revision listing it, and the one applied last)."""
    orders: int
    """How many of the customer's orders name it (0: only on an account)."""
