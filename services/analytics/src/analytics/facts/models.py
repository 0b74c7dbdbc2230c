from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, DateTime, Index, Numeric
from sqlmodel import Field, SQLModel


class OrderFact(SQLModel, table=True):
    """One order as analytics counts it: when, where, how much, and whose (no personal data)."""

    __tablename__ = "order_facts"
    __table_args__ = (
        # The KPI aggregate scans one store's time range; the included columns let it answer
        # from the index without visiting the table for every row.
        Index(
            "ix_order_facts_store_id_placed_at",
            "store_id",
            "placed_at",
            postgresql_include=[
                "currency",
                "net_paid",
                "cancelled_at",
                "customer_id",
                "customer_ref",
            ],
        ),
        # Finding every order of a buyer not yet attributed, to recount that buyer.
        Index("ix_order_facts_store_id_customer_ref", "store_id", "customer_ref"),
    )

    order_id: str = Field(primary_key=True)
    store_id: str
    external_id: str
    placed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    currency: str = Field(max_length=3)
    financial_status: str
    cancelled_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    total: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    net_paid: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    counted: bool
    """Whether the order counts in sales: all but those voided (cancelled before payment)."""
    net_sales: Decimal = Field(sa_column=Column(Numeric, nullable=False))
    """Gross sales less discounts and returns so far (`rollups/entries.py`)."""
    customer_ref: str | None = None
    """The shop's own customer id: who bought it while customer-profile has not attributed it."""
    customer_id: str | None = Field(default=None, index=True)
    """The attributed customer, merges followed; null until an attribution arrives."""
    version: int
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class OrderAttribution(SQLModel, table=True):
    """customer-profile's word on whose an order is, kept even before the order itself arrives."""

    __tablename__ = "order_attributions"

    order_id: str = Field(primary_key=True)
    customer_id: str = Field(index=True)
    """Merges followed: always a customer that has not been merged away."""
    store_id: str
    attributed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    """The attributing event's time; a later attribution of the same order replaces an earlier."""


class CustomerMerge(SQLModel, table=True):
    """A customer merged into another, so that later mentions of it count for the survivor;
    deleted when the merge is undone."""

    __tablename__ = "customer_merges"

    merged_id: str = Field(primary_key=True)
    survivor_id: str = Field(index=True)
    """The survivor the merge named, which may have been merged in turn: follow the chain to
    the customer it stands for now. Kept as named so that undoing a later merge of the survivor
    leaves this one in effect."""
    merged_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
