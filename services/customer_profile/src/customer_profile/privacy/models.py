from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime
from sqlmodel import Field, SQLModel


class AuditEntry(SQLModel, table=True):
    """A person read (or erased) a customer's personal data. Holds who, what and when, never the
    data itself."""

    __tablename__ = "audit_log"

    audit_id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    actor: str
    """The JWT subject of the caller."""
    action: str
    """`customer.read`, `customer.lookup`, `consents.read`, `customer.export`, `customer.erase`."""
    customer_id: str = Field(index=True)


class CustomerErasure(SQLModel, table=True):
    """The tombstone of an erased customer; its `customers` row keeps only ids and statistics."""

    __tablename__ = "customer_erasures"

    customer_id: str = Field(foreign_key="customers.customer_id", primary_key=True)
    erased_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    erased_by: str
    """The JWT subject of the admin who asked for it."""
    erased_with: str | None = None
    """Set on a customer merged into another: the survivor whose erasure took it along."""
