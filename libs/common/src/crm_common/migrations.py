"""crm_common's tables as migration steps, for every PostgreSQL service's Alembic revisions.

Each function is one step, frozen once released: a later change to these tables is a new
function called from a new revision of every service, never an edit of one that databases have
already run.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def _created_at(name: str) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def create_outbox_and_processed_events() -> None:
    """`outbox_events` (`crm_common.outbox`) and `processed_events` (`crm_common.idempotency`)."""
    op.create_table(
        "outbox_events",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _created_at("created_at"),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_outbox_events_event_id", "outbox_events", ["event_id"])
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        _created_at("processed_at"),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )


def drop_outbox_and_processed_events() -> None:
    op.drop_table("processed_events")
    op.drop_index("ix_outbox_events_event_id", table_name="outbox_events")
    op.drop_table("outbox_events")


def create_outbox_parked() -> None:
    """`outbox_parked`: events the producer refused for good, kept with the reason."""
    op.create_table(
        "outbox_parked",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _created_at("parked_at"),
        sa.Column("reason", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_outbox_parked_event_id", "outbox_parked", ["event_id"])


def drop_outbox_parked() -> None:
    op.drop_index("ix_outbox_parked_event_id", table_name="outbox_parked")
    op.drop_table("outbox_parked")
