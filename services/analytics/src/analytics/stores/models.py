from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class StoreSettings(SQLModel, table=True):
    """How a store wants its days counted; a store without a row counts in UTC."""

    __tablename__ = "store_settings"

    store_id: str = Field(primary_key=True)
    time_zone: str
    """An IANA time zone name (`Europe/Berlin`): the store's days begin at its midnight."""
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
