"""webhook deliveries: listing and retention indexes, purged bodies, replays; shop customers

`webhook_deliveries` gains `body_purged_at` (the retention task empties a body, the record stays)
and indexes for listing a store's deliveries and for finding what is past retention.
`webhook_replays` records each replay of a delivery. `shop_customer_revisions` holds, per shop
customer account, the last revision relayed as `shop.customer.upserted` (no personal data).

Revision ID: 0006_webhook_deliveries
Revises: 0005_payments_shipments
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006_webhook_deliveries"
down_revision: str | None = "0005_payments_shipments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BODY_KEPT = sa.text("body_purged_at IS NULL AND outcome <> 'rejected'")
_REJECTED = sa.text("outcome = 'rejected'")


def upgrade() -> None:
    op.add_column(
        "webhook_deliveries",
        sa.Column("body_purged_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_webhook_deliveries_store_id", "webhook_deliveries", ["store_id", "id"], unique=False
    )
    op.create_index(
        "ix_webhook_deliveries_received", "webhook_deliveries", ["received_at"], unique=False
    )
    op.create_index(
        "ix_webhook_deliveries_body_kept",
        "webhook_deliveries",
        ["received_at"],
        unique=False,
        postgresql_where=_BODY_KEPT,
    )
    op.create_index(
        "ix_webhook_deliveries_rejected",
        "webhook_deliveries",
        ["received_at"],
        unique=False,
        postgresql_where=_REJECTED,
    )
    op.create_table(
        "webhook_replays",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("webhook_delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_delivery_id"], ["webhook_deliveries.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_webhook_replays_delivery",
        "webhook_replays",
        ["webhook_delivery_id", "id"],
        unique=False,
    )
    op.create_table(
        "shop_customer_revisions",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["stores.store_id"]),
        sa.PrimaryKeyConstraint("store_id", "external_id"),
    )


def downgrade() -> None:
    op.drop_table("shop_customer_revisions")
    op.drop_index("ix_webhook_replays_delivery", table_name="webhook_replays")
    op.drop_table("webhook_replays")
    op.drop_index(
        "ix_webhook_deliveries_rejected",
        table_name="webhook_deliveries",
        postgresql_where=_REJECTED,
    )
    op.drop_index(
        "ix_webhook_deliveries_body_kept",
        table_name="webhook_deliveries",
        postgresql_where=_BODY_KEPT,
    )
    op.drop_index("ix_webhook_deliveries_received", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_store_id", table_name="webhook_deliveries")
    op.drop_column("webhook_deliveries", "body_purged_at")
