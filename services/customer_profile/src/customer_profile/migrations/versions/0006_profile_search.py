"""Profile search: tags and traits, addresses from orders, the names blind index, and the index
a search by lifecycle stage walks.

The names of the customers already stored are indexed here (decrypted with the PII keys, as
0005 needs them too); addresses start with the next snapshot of each order, as no address was
kept before.

Revision ID: 0006_profile_search
Revises: 0005_pii_encryption
Create Date: 2026-11-28 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from customer_profile import pii
from customer_profile.search import names

revision: str = "0006_profile_search"
down_revision: str | None = "0005_pii_encryption"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
SEARCHED = (
    "customers",
    "customer_identities",
    "customer_erasures",
    "customer_tags",
    "customer_attributes",
    "customer_name_terms",
)


def upgrade() -> None:
    op.create_table(
        "customer_attributes",
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("traits", sa.LargeBinary(), nullable=False),
        sa.Column("traits_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"]),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "customer_tags",
        sa.Column("tag", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merge_id", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"]),
        sa.PrimaryKeyConstraint("tag", "customer_id"),
    )
    op.create_index(
        op.f("ix_customer_tags_customer_id"), "customer_tags", ["customer_id"], unique=False
    )
    op.create_table(
        "attribute_merges",
        sa.Column("merge_id", sa.String(), nullable=False),
        sa.Column("survivor_id", sa.String(), nullable=False),
        sa.Column("merged_id", sa.String(), nullable=False),
        sa.Column("changes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("merge_id"),
    )
    op.create_index(
        op.f("ix_attribute_merges_survivor_id"), "attribute_merges", ["survivor_id"], unique=False
    )
    op.create_index(
        op.f("ix_attribute_merges_merged_id"), "attribute_merges", ["merged_id"], unique=False
    )
    op.create_table(
        "order_addresses",
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("address", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["customer_orders.order_id"]),
        sa.PrimaryKeyConstraint("order_id", "kind"),
    )
    op.create_table(
        "customer_name_terms",
        sa.Column("term", sa.LargeBinary(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"]),
        sa.PrimaryKeyConstraint("term", "customer_id"),
    )
    op.create_index(
        op.f("ix_customer_name_terms_customer_id"),
        "customer_name_terms",
        ["customer_id"],
        unique=False,
    )
    # Short prefixes are shared by many customers: a larger sample lets the planner tell a
    # one-letter term from a rare one.
    op.execute("ALTER TABLE customer_name_terms ALTER COLUMN term SET STATISTICS 1000")
    op.create_index(
        "ix_customers_search_stats",
        "customers",
        ["customer_id"],
        unique=False,
        postgresql_include=["orders_count", "first_order_at", "last_order_at"],
        postgresql_where=sa.text("merged_into IS NULL"),
    )
    # A search reads a page: a parallel plan's worker start-up (tens of milliseconds on a busy
    # machine) costs more than any page it could speed up, so these tables are never scanned in
    # parallel (the batch jobs read other tables).
    for table in SEARCHED:
        op.execute(f"ALTER TABLE {table} SET (parallel_workers = 0)")
    _index_names()


def _index_names() -> None:
    """Terms for the names of every customer not merged into another (merged ones are never
    searched). The terms are those `customer_profile.search.names` computes, which is what the
    search looks up: if it changes, a later revision reindexes."""
    bind = op.get_bind()
    last = ""
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT customer_id, first_name, last_name FROM customers "
                "WHERE customer_id > :last AND merged_into IS NULL "
                "AND (first_name IS NOT NULL OR last_name IS NOT NULL) "
                "ORDER BY customer_id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        terms = [
            {"term": term, "customer_id": customer_id}
            for customer_id, first, last_name in rows
            for term in sorted(
                names.terms(
                    _decrypt("customers.first_name", first),
                    _decrypt("customers.last_name", last_name),
                )
            )
        ]
        if terms:
            bind.execute(
                sa.text(
                    "INSERT INTO customer_name_terms (term, customer_id) VALUES (:term, :customer_id)"
                ),
                terms,
            )
        last = rows[-1][0]


def _decrypt(purpose: str, stored: bytes | None) -> str | None:
    return None if stored is None else pii.decrypt_text(purpose, bytes(stored))


def downgrade() -> None:
    for table in SEARCHED[:3]:
        op.execute(f"ALTER TABLE {table} RESET (parallel_workers)")
    op.drop_index(
        "ix_customers_search_stats",
        table_name="customers",
        postgresql_where=sa.text("merged_into IS NULL"),
    )
    op.drop_index(op.f("ix_customer_name_terms_customer_id"), table_name="customer_name_terms")
    op.drop_table("customer_name_terms")
    op.drop_table("order_addresses")
    op.drop_index(op.f("ix_attribute_merges_merged_id"), table_name="attribute_merges")
    op.drop_index(op.f("ix_attribute_merges_survivor_id"), table_name="attribute_merges")
    op.drop_table("attribute_merges")
    op.drop_index(op.f("ix_customer_tags_customer_id"), table_name="customer_tags")
    op.drop_table("customer_tags")
    op.drop_table("customer_attributes")
