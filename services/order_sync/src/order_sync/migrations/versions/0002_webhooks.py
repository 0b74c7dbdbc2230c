"""webhooks: every Shopify and WooCommerce delivery, kept raw with its outcome

Revision ID: 0002_webhooks
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_webhooks"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLAIMING = sa.text("outcome IN ('received', 'applied', 'unchanged', 'ignored')")


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("store_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("delivery_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("dedup_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("body_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_webhook_deliveries_store_received",
        "webhook_deliveries",
        ["store_id", "received_at"],
        unique=False,
    )
    op.create_index(
        "uq_webhook_deliveries_claim",
        "webhook_deliveries",
        ["platform", "store_id", "dedup_key"],
        unique=True,
        postgresql_where=_CLAIMING,
    )


def downgrade() -> None:
    op.drop_index(
        "uq_webhook_deliveries_claim",
        table_name="webhook_deliveries",
        postgresql_where=_CLAIMING,
    )
    op.drop_index("ix_webhook_deliveries_store_received", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
