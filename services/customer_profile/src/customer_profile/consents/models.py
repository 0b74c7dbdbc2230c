from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime
from sqlmodel import Field, SQLModel

from customer_profile.pii import EncryptedJSON


class CustomerConsent(SQLModel, table=True):
    """The decision in force for one customer, channel and purpose."""

    __tablename__ = "customer_consents"

    customer_id: str = Field(foreign_key="customers.customer_id", primary_key=True)
    channel: str = Field(primary_key=True)
    purpose: str = Field(primary_key=True)
    status: str
    source: str
    changed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    """When the person decided (an order's `updated_at`, the API call, the imported time)."""
    proof: dict[str, str] | None = Field(
        default=None, sa_column=Column(EncryptedJSON("customer_consents.proof"), nullable=True)
    )
    """Evidence of the decision (encrypted: an IP address, a user agent); null once the
    customer is erased."""
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ConsentLogEntry(SQLModel, table=True):
    """One applied change of a consent; rows are only ever added (erasure blanks `proof`)."""

    __tablename__ = "consent_log"

    entry_id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    customer_id: str = Field(foreign_key="customers.customer_id", index=True)
    channel: str
    purpose: str
    status: str
    source: str
    changed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    proof: dict[str, str] | None = Field(
        default=None, sa_column=Column(EncryptedJSON("consent_log.proof"), nullable=True)
    )
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    merge_id: str | None = None
    """The merge that brought this decision over from the merged customer, if any."""
    reason: str | None = None
    """Why the change was made when it is not the person's own decision: `merge`, `unmerge`."""
