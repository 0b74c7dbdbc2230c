from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, DateTime, Index, Numeric, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


class SegmentRow(SQLModel, table=True):
    """A segment's definition; `built_version` is the version whose backfill is complete, and
    `build_cursor` the last customer id the running backfill has evaluated."""

    __tablename__ = "segments"

    segment_id: str = Field(primary_key=True)
    name: str
    definition: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    version: int = 1
    built_version: int = 0
    build_cursor: str | None = None
    deleted: bool = False
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SegmentProfile(SQLModel, table=True):
    """A customer as trait conditions see them (`state.CustomerState.profile`), and the merges
    and erasure that decide whose behaviour is whose."""

    __tablename__ = "segment_profiles"

    customer_id: str = Field(primary_key=True)
    profile: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    version: int = 0
    merged_into: str | None = Field(default=None, index=True)
    erased: bool = False


class BehaviourOwner(SQLModel, table=True):
    """Who an owner key (`order:<id>`, `email:<address>`, `store_ref:<store>:<ref>`) is, as
    customer-profile attributed or linked it."""

    __tablename__ = "behaviour_owners"

    owner_key: str = Field(primary_key=True)
    customer_id: str = Field(index=True)


class BehaviourFact(SQLModel, table=True):
    """One event of behaviour, compact (`state.Fact`), by the owner key it came with."""

    __tablename__ = "behaviour_facts"

    fact_id: str = Field(primary_key=True)
    owner_key: str = Field(index=True)
    name: str
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    skus: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    total: Decimal | None = Field(default=None, sa_column=Column(Numeric, nullable=True))
    currency: str | None = None
    store_id: str | None = None


class SegmentMembership(SQLModel, table=True):
    """A customer's standing in a segment: kept while a member, once a member (so `version`
    keeps growing), or while time alone could make them one (`next_check`)."""

    __tablename__ = "segment_memberships"
    __table_args__ = (Index("ix_segment_memberships_next_check", "next_check"),)

    segment_id: str = Field(primary_key=True)
    customer_id: str = Field(primary_key=True, index=True)
    member: bool
    version: int
    changed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    next_check: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
