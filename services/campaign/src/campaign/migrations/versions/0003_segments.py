"""Segments: definitions, profiles, behaviour facts and their owners, memberships.

Revision ID: 0003_segments
Revises: 0002_outbox_parked
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_segments"
down_revision: str | None = "0002_outbox_parked"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("segment_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("definition", postgresql.JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("built_version", sa.Integer(), nullable=False),
        sa.Column("build_cursor", sa.String(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("segment_id"),
    )
    op.create_table(
        "segment_profiles",
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("profile", postgresql.JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("merged_into", sa.String(), nullable=True),
        sa.Column("erased", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_index(
        op.f("ix_segment_profiles_merged_into"), "segment_profiles", ["merged_into"], unique=False
    )
    op.create_table(
        "behaviour_owners",
        sa.Column("owner_key", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("owner_key"),
    )
    op.create_index(
        op.f("ix_behaviour_owners_customer_id"), "behaviour_owners", ["customer_id"], unique=False
    )
    op.create_table(
        "behaviour_facts",
        sa.Column("fact_id", sa.String(), nullable=False),
        sa.Column("owner_key", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("skus", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("total", sa.Numeric(), nullable=True),
        sa.Column("currency", sa.String(), nullable=True),
        sa.Column("store_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("fact_id"),
    )
    op.create_index(
        op.f("ix_behaviour_facts_owner_key"), "behaviour_facts", ["owner_key"], unique=False
    )
    op.create_table(
        "segment_memberships",
        sa.Column("segment_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("member", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_check", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("segment_id", "customer_id"),
    )
    op.create_index(
        op.f("ix_segment_memberships_customer_id"),
        "segment_memberships",
        ["customer_id"],
        unique=False,
    )
    op.create_index(
        "ix_segment_memberships_next_check", "segment_memberships", ["next_check"], unique=False
    )


def downgrade() -> None:
    op.drop_table("segment_memberships")
    op.drop_table("behaviour_facts")
    op.drop_table("behaviour_owners")
    op.drop_table("segment_profiles")
    op.drop_table("segments")
