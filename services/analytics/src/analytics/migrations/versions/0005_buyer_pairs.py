"""Buyer figures by whole months and the days around them: buyer pairs at three grains, the
days between orders by month, and each whole day's, week's and month's figures

Revision ID: 0005_buyer_pairs
Revises: 0004_sales_rollups
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_buyer_pairs"
down_revision: str | None = "0004_sales_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The new roll-ups summed from `buyer_orders` as they stand, as the consumer keeps them
# (`rollups/repository.py`, `rollups/buyers.py`).
_FILL_PAIRS = (
    "WITH pairs AS (SELECT store_id, previous_day AS x, day AS y, 1 AS orders, 0 AS seconds "
    "FROM buyer_orders UNION ALL SELECT store_id, day, second_day, 0, 1 FROM buyer_orders "
    "WHERE previous_day = '-infinity' AND second_day < 'infinity') "
    "INSERT INTO buyer_pairs (store_id, grain, x, y, orders, seconds) "
    "SELECT store_id, grain, "
    "CASE WHEN grain = 'mm' THEN date_trunc('month', x)::date ELSE x END, "
    "CASE WHEN grain = 'dd' THEN y ELSE date_trunc('month', y)::date END, "
    "sum(orders), sum(seconds) FROM pairs CROSS JOIN (VALUES ('dd'), ('dm'), ('mm')) AS g(grain) "
    "GROUP BY 1, 2, 3, 4"
)
_FILL_GAPS = (
    "INSERT INTO gap_months (store_id, month, gap, orders) "
    "SELECT store_id, date_trunc('month', day)::date, "
    "CASE WHEN previous_day > '-infinity' THEN day - previous_day END, count(*) "
    "FROM buyer_orders WHERE previous_day > '-infinity' GROUP BY 1, 2, 3"
)
_PERIODS = {
    "day": ("day", "day + 1"),
    "week": ("date_trunc('week', day)::date", "date_trunc('week', day)::date + 7"),
    "month": (
        "date_trunc('month', day)::date",
        "(date_trunc('month', day) + interval '1 month')::date",
    ),
}


def _fill_periods(granularity: str) -> str:
    start, end = _PERIODS[granularity]
    return (
        "INSERT INTO buyer_periods (store_id, granularity, period_start, buyers, new_buyers, "
        "one_time_buyers, orders, median_gap_days) "
        f"SELECT store_id, '{granularity}', period_start, "
        "count(*) FILTER (WHERE previous_day < period_start), "
        "count(*) FILTER (WHERE previous_day = '-infinity'), "
        "count(*) FILTER (WHERE previous_day = '-infinity' AND second_day >= period_end), "
        "count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY "
        "CASE WHEN previous_day > '-infinity' THEN day - previous_day END) "
        f"FROM (SELECT *, {start} AS period_start, {end} AS period_end FROM buyer_orders) AS b "
        "GROUP BY store_id, period_start"
    )


def upgrade() -> None:
    op.create_table(
        "buyer_pairs",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("grain", sa.String(length=2), nullable=False),
        sa.Column("x", sa.Date(), nullable=False),
        sa.Column("y", sa.Date(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "grain", "x", "y"),
    )
    op.create_index(
        "ix_buyer_pairs_store_id_grain_y_x",
        "buyer_pairs",
        ["store_id", "grain", "y", "x"],
        postgresql_include=["orders", "seconds"],
    )
    op.create_table(
        "gap_months",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("gap", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "month", "gap"),
    )
    op.create_table(
        "buyer_periods",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("granularity", sa.String(length=5), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("buyers", sa.Integer(), nullable=False),
        sa.Column("new_buyers", sa.Integer(), nullable=False),
        sa.Column("one_time_buyers", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("median_gap_days", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("store_id", "granularity", "period_start"),
    )
    op.execute(_FILL_PAIRS)
    op.execute(_FILL_GAPS)
    for granularity in _PERIODS:
        op.execute(_fill_periods(granularity))
    op.drop_table("buyer_days")


def downgrade() -> None:
    op.create_table(
        "buyer_days",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("previous_day", sa.Date(), nullable=False),
        sa.Column("second_day", sa.Date(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "day", "previous_day", "second_day"),
    )
    op.execute(
        "INSERT INTO buyer_days (store_id, day, previous_day, second_day, orders) "
        "SELECT store_id, day, previous_day, second_day, count(*) FROM buyer_orders "
        "GROUP BY 1, 2, 3, 4"
    )
    for table in ("buyer_periods", "gap_months", "buyer_pairs"):
        op.drop_table(table)
