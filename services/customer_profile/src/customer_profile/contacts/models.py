from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class ShopAccount(SQLModel, table=True):
    """The newest revision of a shop customer account applied (`shop.customer.upserted`): an
    older one arriving later is ignored. Keyed by a keyed digest of the shop's reference, so the
    row names no one without the lookup key."""

    __tablename__ = "shop_accounts"

    account_digest: str = Field(primary_key=True)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    """The account's `updated_at` at the shop, as last applied."""
    applied_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
