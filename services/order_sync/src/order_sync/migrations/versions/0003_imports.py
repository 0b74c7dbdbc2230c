"""imports: import jobs and their row errors, rejected orders, and what listing orders needs

Orders gain `changed_via` (the channel of the stored revision) and the indexes that listing
(newest first by placed_at and order_id, per store or overall), e-mail lookups (case-insensitive)
and the sync status (a store's last change) use.

Revision ID: 0003_imports
Revises: 0002_webhooks
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_imports"
down_revision: str | None = "0002_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("import_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("file_path", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("file_bytes", sa.BigInteger(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("orders_read", sa.Integer(), nullable=False),
        sa.Column("orders_created", sa.Integer(), nullable=False),
        sa.Column("orders_updated", sa.Integer(), nullable=False),
        sa.Column("orders_unchanged", sa.Integer(), nullable=False),
        sa.Column("orders_rejected", sa.Integer(), nullable=False),
        sa.Column("errors_total", sa.Integer(), nullable=False),
        sa.Column("last_committed_row", sa.Integer(), nullable=False),
        sa.Column("failure", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.store_id"],
        ),
        sa.PrimaryKeyConstraint("import_id"),
    )
    op.create_index(
        "ix_import_jobs_store_status", "import_jobs", ["store_id", "status"], unique=False
    )
    op.create_table(
        "order_rejections",
        sa.Column("rejection_id", sa.BigInteger(), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("errors", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.store_id"],
        ),
        sa.PrimaryKeyConstraint("rejection_id"),
    )
    op.create_index(
        "ix_order_rejections_store", "order_rejections", ["store_id", "rejected_at"], unique=False
    )
    op.create_table(
        "import_errors",
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["import_jobs.import_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("import_id", "row", "position"),
    )
    op.add_column(
        "orders",
        sa.Column("changed_via", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    )
    op.drop_index(op.f("ix_orders_customer_email"), table_name="orders")
    op.drop_index(op.f("ix_orders_store_placed"), table_name="orders")
    op.create_index(
        "ix_orders_store_placed", "orders", ["store_id", "placed_at", "order_id"], unique=False
    )
    op.create_index(
        "ix_orders_customer_email_lower",
        "orders",
        [sa.literal_column("lower(customer_email)")],
        unique=False,
    )
    op.create_index("ix_orders_placed", "orders", ["placed_at", "order_id"], unique=False)
    op.create_index("ix_orders_store_changed", "orders", ["store_id", "changed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_orders_store_changed", table_name="orders")
    op.drop_index("ix_orders_placed", table_name="orders")
    op.drop_index("ix_orders_customer_email_lower", table_name="orders")
    op.drop_index("ix_orders_store_placed", table_name="orders")
    op.create_index(
        op.f("ix_orders_store_placed"), "orders", ["store_id", "placed_at"], unique=False
    )
    op.create_index(op.f("ix_orders_customer_email"), "orders", ["customer_email"], unique=False)
    op.drop_column("orders", "changed_via")
    op.drop_table("import_errors")
    op.drop_index("ix_order_rejections_store", table_name="order_rejections")
    op.drop_table("order_rejections")
    op.drop_index("ix_import_jobs_store_status", table_name="import_jobs")
    op.drop_table("import_jobs")
