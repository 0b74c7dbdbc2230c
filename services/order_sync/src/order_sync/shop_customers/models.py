from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, String
from sqlmodel import Field, SQLModel


class ShopCustomerRevision(SQLModel, table=True):
    """The last revision of a shop's customer account order-sync announced: no personal data,
    only what tells a newer revision from one already sent (customer-profile owns customers)."""

    __tablename__ = "shop_customer_revisions"

    store_id: str = Field(
        sa_column=Column(String(64), ForeignKey("stores.store_id"), primary_key=True)
    )
    external_id: str = Field(primary_key=True)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    """The shop's time of the announced revision."""
    digest: str = Field(max_length=64)
    """SHA-256 of the announced canonical account, which tells two revisions of one time apart."""
    version: int
    changed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
