from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime
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


class AccountAddress(SQLModel, table=True):
    """An address on a shop customer account, as of the account's newest revision applied.

    Keyed by the account (the `shop_accounts` digest) rather than the customer: a newer revision
    replaces its account's addresses wherever the account now resolves, and a merge or its undo
    moves an account's addresses as a whole."""

    __tablename__ = "account_addresses"

    account_digest: str = Field(foreign_key="shop_accounts.account_digest", primary_key=True)
    fingerprint: str = Field(primary_key=True)
    """As on `order_addresses`: one row per place of the account."""
    customer_id: str = Field(foreign_key="customers.customer_id", index=True)
    position: int
    """Where the account lists it (0: first, the default when the shop names one)."""
    address: dict[str, Any] = Field(
        sa_column=Column(EncryptedJSON("account_addresses.address"), nullable=False)
    )
    first_seen_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    """The `updated_at` of the first revision of the account that listed it."""
    last_seen_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    """The `updated_at` of the revision applied last."""


class AccountAddressMove(SQLModel, table=True):
    """An account whose addresses a merge moved to the survivor: what its undo moves back (a later
    merge moving them again has its own row, so undoing both in reverse order works)."""

    __tablename__ = "account_address_moves"

    merge_id: str = Field(primary_key=True)
    account_digest: str = Field(foreign_key="shop_accounts.account_digest", primary_key=True)
