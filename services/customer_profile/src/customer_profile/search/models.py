from sqlalchemy import Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from customer_profile.customers.models import Customer


class CustomerNameTerm(SQLModel, table=True):
    """One term of the names blind index (see `names.py`): a customer is found by a name prefix
    through the keyed digest of that prefix. The primary key leads with the term, so a search
    walks one term's customers in customer_id order, the search's page order."""

    __tablename__ = "customer_name_terms"

    term: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    customer_id: str = Field(foreign_key="customers.customer_id", primary_key=True, index=True)


# A search by lifecycle stage alone walks the customers in customer_id order and keeps those
# whose statistics fall in the stage's bounds: this index holds the statistics, so the walk reads
# the index only and visits the table for the page's rows alone. Merged customers are never
# searched. Declared here, beside the search, rather than on the model the order consumer owns.
STATS_INDEX = Index(
    "ix_customers_search_stats",
    Customer.__table__.c.customer_id,  # type: ignore[attr-defined]
    postgresql_include=["orders_count", "first_order_at", "last_order_at"],
    postgresql_where=Customer.__table__.c.merged_into.is_(None),  # type: ignore[attr-defined]
)
