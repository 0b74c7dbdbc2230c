"""Shop customer accounts: the newest revision applied per account, so older ones are ignored.

Revision ID: 0007_bulk
Revises: 0006_profile_search
Create Date: 2026-11-28 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_bulk"
down_revision: str | None = "0006_profile_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shop_accounts",
        sa.Column("account_digest", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_digest"),
    )


def downgrade() -> None:
    op.drop_table("shop_accounts")
