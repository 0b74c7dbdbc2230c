"""webhook deliveries applied behind the answer: an index of those still to apply, and the
trace each was received in

Revision ID: 0008_webhooks_applied_behind
Revises: 0007_outbox_parked
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_webhooks_applied_behind"
down_revision: str | None = "0007_outbox_parked"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RECEIVED = sa.text("outcome = 'received'")


def upgrade() -> None:
    op.add_column(
        "webhook_deliveries",
        sa.Column(
            "trace_context",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_to_apply",
        "webhook_deliveries",
        ["id"],
        unique=False,
        postgresql_where=_RECEIVED,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_webhook_deliveries_to_apply",
        table_name="webhook_deliveries",
        postgresql_where=_RECEIVED,
    )
    op.drop_column("webhook_deliveries", "trace_context")
