from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class Store(SQLModel, table=True):
    """A connected shop; orders name it by `store_id`."""

    __tablename__ = "stores"

    store_id: str = Field(primary_key=True, max_length=64)
    platform: str = Field(max_length=32)
    name: str = Field(max_length=200)
    currency: str = Field(max_length=3)
    country: str | None = Field(default=None, max_length=2)
    webhook_secret: str | None = None
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
