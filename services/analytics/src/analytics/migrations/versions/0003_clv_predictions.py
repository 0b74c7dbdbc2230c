"""clv_models and customer_predictions: lifetime-value model cards and customer predictions

Revision ID: 0003_clv_predictions
Revises: 0002_outbox_parked
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_clv_predictions"
down_revision: str | None = "0002_outbox_parked"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clv_models",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("card", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("store_id"),
    )
    op.create_table(
        "customer_predictions",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("probability_alive", sa.Numeric(), nullable=False),
        sa.Column("expected_orders_90d", sa.Numeric(), nullable=False),
        sa.Column("expected_orders_365d", sa.Numeric(), nullable=False),
        sa.Column("expected_orders_horizon", sa.Numeric(), nullable=False),
        sa.Column("predicted_clv", sa.Numeric(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("next_order_expected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("churn_risk", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "customer_id"),
    )
    op.create_index("ix_customer_predictions_customer_id", "customer_predictions", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_customer_predictions_customer_id", table_name="customer_predictions")
    op.drop_table("customer_predictions")
    op.drop_table("clv_models")
