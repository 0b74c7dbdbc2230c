"""Shop account addresses: each account's addresses as of its newest revision applied (encrypted),
and the accounts each merge moved, for its undo.

Revision ID: 0008_account_addresses
Revises: 0007_bulk
Create Date: 2026-12-07 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_account_addresses"
down_revision: str | None = "0007_bulk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_addresses",
        sa.Column("account_digest", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("address", sa.LargeBinary(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_digest"], ["shop_accounts.account_digest"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"]),
        sa.PrimaryKeyConstraint("account_digest", "fingerprint"),
    )
    op.create_index(
        op.f("ix_account_addresses_customer_id"),
        "account_addresses",
        ["customer_id"],
        unique=False,
    )
    op.create_table(
        "account_address_moves",
        sa.Column("merge_id", sa.String(), nullable=False),
        sa.Column("account_digest", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["account_digest"], ["shop_accounts.account_digest"]),
        sa.PrimaryKeyConstraint("merge_id", "account_digest"),
    )


def downgrade() -> None:
    op.drop_table("account_address_moves")
    op.drop_index(op.f("ix_account_addresses_customer_id"), table_name="account_addresses")
    op.drop_table("account_addresses")
