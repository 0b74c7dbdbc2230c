"""Merges: customers.merged_into, the merge log, merge suggestions and identity sightings.

Revision ID: 0002_merges
Revises: 0001
Create Date: 2026-11-25 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_merges"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The phones already attributed, each with the email of the same order: the sightings the
# shared-identity limit counts. The digests are customer_profile.customers.identities.digest.
_BACKFILL_SIGHTINGS = """
INSERT INTO identity_sightings (identity_digest, partner_digest, first_seen_at)
SELECT
    encode(sha256(convert_to('phone' || chr(31) || chr(31) || phone, 'UTF8')), 'hex'),
    encode(sha256(convert_to('email' || chr(31) || chr(31) || email, 'UTF8')), 'hex'),
    min(attributed_at)
FROM customer_orders
WHERE phone IS NOT NULL AND email IS NOT NULL
GROUP BY phone, email
ON CONFLICT DO NOTHING
"""


def upgrade() -> None:
    op.add_column("customers", sa.Column("merged_into", sa.String(), nullable=True))
    op.create_index(op.f("ix_customers_merged_into"), "customers", ["merged_into"], unique=False)
    op.create_table(
        "identity_sightings",
        sa.Column("identity_digest", sa.String(), nullable=False),
        sa.Column("partner_digest", sa.String(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("identity_digest", "partner_digest"),
    )
    op.create_table(
        "merge_log",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("merge_id", sa.String(), nullable=False),
        sa.Column("survivor_id", sa.String(), nullable=False),
        sa.Column("merged_id", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index(op.f("ix_merge_log_entry_id"), "merge_log", ["entry_id"], unique=True)
    op.create_index(op.f("ix_merge_log_merge_id"), "merge_log", ["merge_id"], unique=False)
    op.create_index(op.f("ix_merge_log_survivor_id"), "merge_log", ["survivor_id"], unique=False)
    op.create_index(op.f("ix_merge_log_merged_id"), "merge_log", ["merged_id"], unique=False)
    op.create_table(
        "merge_suggestions",
        sa.Column("suggestion_id", sa.String(), nullable=False),
        sa.Column("survivor_id", sa.String(), nullable=False),
        sa.Column("merged_id", sa.String(), nullable=False),
        sa.Column("identity_kind", sa.String(), nullable=False),
        sa.Column("identity_store_id", sa.String(), nullable=True),
        sa.Column("identity_value", sa.String(), nullable=False),
        sa.Column("identity_digest", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(), nullable=True),
        sa.Column("merge_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("suggestion_id"),
        sa.UniqueConstraint(
            "survivor_id", "merged_id", "identity_digest", name="uq_merge_suggestions_pair"
        ),
    )
    op.create_index(op.f("ix_merge_suggestions_survivor_id"), "merge_suggestions", ["survivor_id"])
    op.create_index(op.f("ix_merge_suggestions_merged_id"), "merge_suggestions", ["merged_id"])
    op.create_index(op.f("ix_merge_suggestions_status"), "merge_suggestions", ["status"])
    op.execute(_BACKFILL_SIGHTINGS)


def downgrade() -> None:
    op.drop_index(op.f("ix_merge_suggestions_status"), table_name="merge_suggestions")
    op.drop_index(op.f("ix_merge_suggestions_merged_id"), table_name="merge_suggestions")
    op.drop_index(op.f("ix_merge_suggestions_survivor_id"), table_name="merge_suggestions")
    op.drop_table("merge_suggestions")
    op.drop_index(op.f("ix_merge_log_merged_id"), table_name="merge_log")
    op.drop_index(op.f("ix_merge_log_survivor_id"), table_name="merge_log")
    op.drop_index(op.f("ix_merge_log_merge_id"), table_name="merge_log")
    op.drop_index(op.f("ix_merge_log_entry_id"), table_name="merge_log")
    op.drop_table("merge_log")
    op.drop_table("identity_sightings")
    op.drop_index(op.f("ix_customers_merged_into"), table_name="customers")
    op.drop_column("customers", "merged_into")
