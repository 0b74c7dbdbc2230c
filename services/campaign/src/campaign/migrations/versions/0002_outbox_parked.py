"""outbox_parked: events the broker refused for good, with the reason

Revision ID: 0002_outbox_parked
Revises: 0001
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from crm_common import migrations

revision: str = "0002_outbox_parked"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrations.create_outbox_parked()


def downgrade() -> None:
    migrations.drop_outbox_parked()
