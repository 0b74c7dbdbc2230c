from typing import Any

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from customer_profile.pii import EncryptedJSON


class OrderAddress(SQLModel, table=True):
    """The shipping or billing address an order came with, as of its newest snapshot.

    A customer's addresses are those of their orders, so they follow the orders through merges
    and undos with nothing to move, and a later snapshot that corrects an order's address
    replaces it."""

    __tablename__ = "order_addresses"

    order_id: str = Field(foreign_key="customer_orders.order_id", primary_key=True)
    kind: str = Field(primary_key=True)
    """`shipping` or `billing`."""
    fingerprint: str
    """Keyed digest of the normalised address (`normalise.py`): equal for the same place
    however it was typed, and naming no place without the key."""
    address: dict[str, Any] = Field(
        sa_column=Column(EncryptedJSON("order_addresses.address"), nullable=False)
    )
    """The address as the shop sent it (name, line1, line2, city, region, postal_code,
    country)."""
