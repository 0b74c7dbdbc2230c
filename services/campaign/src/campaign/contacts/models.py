from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class Contact(SQLModel, table=True):
    """A customer as campaigns need them: how to reach them and whether they may be contacted."""

    __tablename__ = "contacts"

    customer_id: str = Field(primary_key=True)
    email: str | None = Field(default=None, index=True)
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    accepts_marketing: bool = False
    merged_into: str | None = Field(default=None, index=True)
    erased: bool = False
    version: int = 0
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
