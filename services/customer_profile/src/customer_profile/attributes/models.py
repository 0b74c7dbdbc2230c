from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from customer_profile.pii import EncryptedJSON


class CustomerAttributes(SQLModel, table=True):
    """A customer's traits: free-form JSON set through `PATCH /v1/customers/{id}`. A table of
    its own rather than columns on `customers`, whose row the order consumer rewrites."""

    __tablename__ = "customer_attributes"

    customer_id: str = Field(foreign_key="customers.customer_id", primary_key=True)
    traits: dict[str, Any] = Field(
        sa_column=Column(EncryptedJSON("customer_attributes.traits"), nullable=False)
    )
    """Free-form, so possibly personal: encrypted like contact data."""
    traits_updated_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    """When the traits last changed: the survivorship of a merge takes each key from the
    customer whose traits changed most recently."""
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class CustomerTag(SQLModel, table=True):
    """One tag of one customer. The primary key leads with the tag: a tag search walks it in
    customer_id order, which is the search's page order."""

    __tablename__ = "customer_tags"

    tag: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customers.customer_id", primary_key=True, index=True)
    added_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    merge_id: str | None = None
    """The merge that brought the tag over from the merged customer (what its undo takes back);
    null once the tag is set explicitly."""


class AttributeMerge(SQLModel, table=True):
    """What a merge did to the survivor's traits, for its undo: per key, the value before (absent
    or one value) and the value the merge set."""

    __tablename__ = "attribute_merges"

    merge_id: str = Field(primary_key=True)
    survivor_id: str = Field(index=True)
    merged_id: str = Field(index=True)
    changes: dict[str, Any] = Field(
        sa_column=Column(EncryptedJSON("attribute_merges.changes"), nullable=False)
    )
    """`{"traits": {key: {"before": [] | [value], "after": value}},
    "traits_updated_at": {"before": ..., "after": ...}}`."""
