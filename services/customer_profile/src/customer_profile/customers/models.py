from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, DateTime, Numeric
from sqlmodel import Field, SQLModel

from customer_profile.pii import EncryptedText

# Personal data is stored as ciphertext (see `pii`): the Python attributes hold the values, the
# columns bytea that only the keys open. Rows are never looked up by these columns.


class Customer(SQLModel, table=True):
    """A person as customer-profile knows them, with the statistics of their orders."""

    __tablename__ = "customers"

    customer_id: str = Field(primary_key=True)
    email: str | None = Field(default=None, sa_column=Column(EncryptedText("customers.email")))
    phone: str | None = Field(default=None, sa_column=Column(EncryptedText("customers.phone")))
    first_name: str | None = Field(
        default=None, sa_column=Column(EncryptedText("customers.first_name"))
    )
    last_name: str | None = Field(
        default=None, sa_column=Column(EncryptedText("customers.last_name"))
    )
    accepts_marketing: bool = False
    orders_count: int = 0
    total_spent: Decimal = Field(
        default=Decimal("0"), sa_column=Column(Numeric, nullable=False, default=0)
    )
    currency: str | None = None
    first_order_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_order_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    version: int = 1
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    merged_into: str | None = Field(default=None, index=True)
    """Set while this customer is merged into another (see the merge log); the row stays so
    that the merge can be undone."""


class CustomerIdentity(SQLModel, table=True):
    """A key that points at exactly one customer; the primary key makes the link unique.

    `value` is the keyed digest of the key (`identities.digest`), under which it is looked up;
    the normalised value itself is kept only encrypted, in `normalised_value`."""

    __tablename__ = "customer_identities"

    kind: str = Field(primary_key=True)
    # "" rather than NULL for email and phone, which belong to no shop: a primary key column
    # cannot be NULL.
    store_id: str = Field(default="", primary_key=True)
    value: str = Field(primary_key=True)
    normalised_value: str = Field(
        sa_column=Column(EncryptedText("customer_identities.normalised_value"), nullable=False)
    )
    customer_id: str = Field(foreign_key="customers.customer_id", index=True)
    linked_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    order_id: str | None = None
    """The order that brought the identity in."""


class CustomerOrder(SQLModel, table=True):
    """An order attributed to a customer, as of its newest snapshot."""

    __tablename__ = "customer_orders"

    order_id: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customers.customer_id", index=True)
    store_id: str
    external_id: str
    placed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    currency: str
    net_paid: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    cancelled: bool = False
    order_version: int
    email: str | None = Field(
        default=None, sa_column=Column(EncryptedText("customer_orders.email"))
    )
    phone: str | None = Field(
        default=None, sa_column=Column(EncryptedText("customer_orders.phone"))
    )
    first_name: str | None = Field(
        default=None, sa_column=Column(EncryptedText("customer_orders.first_name"))
    )
    last_name: str | None = Field(
        default=None, sa_column=Column(EncryptedText("customer_orders.last_name"))
    )
    accepts_marketing: bool = False
    attributed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class IdentitySighting(SQLModel, table=True):
    """An identity value seen on an order together with a stronger identity (its partner):
    how many different people present a value. Both are keyed digests (`identities.digest`);
    nothing here names anyone."""

    __tablename__ = "identity_sightings"

    identity_digest: str = Field(primary_key=True)
    partner_digest: str = Field(primary_key=True)
    first_seen_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
