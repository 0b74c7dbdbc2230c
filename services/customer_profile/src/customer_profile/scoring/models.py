from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Column, DateTime, Integer, Numeric, SmallInteger
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel


class CustomerRfm(SQLModel, table=True):
    """A customer's recency, frequency and monetary value in one store, and their scores (1 to 5,
    5 best) among the store's customers; scores are null until the store's first batch."""

    __tablename__ = "customer_rfm"

    # No foreign key: the rows derive from customer_orders (which has one), and checking it per
    # row took nearly half of the nightly batch.
    customer_id: str = Field(primary_key=True)
    store_id: str = Field(primary_key=True)
    currency: str
    """The currency of the customer's first counted order in the store: `monetary` sums the
    orders in it, and the store's customers are ranked per currency."""
    orders_count: int
    monetary: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    last_order_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    r_score: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))
    f_score: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))
    m_score: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))
    scored_by: str
    """`batch` (exact quintiles) or `incremental` (against the last batch's boundaries)."""
    scored_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class RfmBoundaries(SQLModel, table=True):
    """Where each score starts in one store and currency, as of the last batch: element k (0 to 3)
    of each array is the smallest value that scored k + 2 or more (null when none did)."""

    __tablename__ = "rfm_boundaries"

    store_id: str = Field(primary_key=True)
    currency: str = Field(primary_key=True)
    recency: list[datetime | None] = Field(
        sa_column=Column(ARRAY(DateTime(timezone=True)), nullable=False)
    )
    """Thresholds on the last order's time."""
    frequency: list[int | None] = Field(sa_column=Column(ARRAY(Integer), nullable=False))
    monetary: list[Decimal | None] = Field(sa_column=Column(ARRAY(Numeric), nullable=False))
    customers: int
    computed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ScoringRun(SQLModel, table=True):
    """One exact recomputation of every store's RFM scores."""

    __tablename__ = "scoring_runs"

    run_id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    stores: int
    customers: int
