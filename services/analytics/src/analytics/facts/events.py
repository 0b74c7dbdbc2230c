"""The event contracts analytics reads, mapped to its own rows."""

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from crm_events.customer import CustomerOrderAttributed
from crm_events.order import OrderSnapshot

from analytics.facts.models import OrderFact
from analytics.rollups.entries import OrderEntries, order_entries

ORDER_EVENT_PREFIX = "crm.order."
ORDER_ATTRIBUTED = "crm.customer.order_attributed"
CUSTOMER_MERGED = "crm.customer.merged"
CUSTOMER_UNMERGED = "crm.customer.unmerged"
CUSTOMER_EVENTS_APPLIED = frozenset({ORDER_ATTRIBUTED, CUSTOMER_MERGED, CUSTOMER_UNMERGED})
CUSTOMER_ERASED = "crm.customer.erased"


class FactRow(NamedTuple):
    """The columns of an order's fact that its snapshot decides (all but `customer_id`), in
    the table's order: cheap to build for thousands of snapshots a second."""

    order_id: str
    store_id: str
    external_id: str
    placed_at: datetime
    currency: str
    financial_status: str
    cancelled_at: datetime | None
    total: Decimal
    net_paid: Decimal
    customer_ref: str | None
    version: int
    updated_at: datetime
    counted: bool
    net_sales: Decimal


def fact_row(snapshot: OrderSnapshot, entries: OrderEntries | None = None) -> FactRow:
    """The fact of an order snapshot (whose `entries` are given when already computed);
    contact details are left behind on purpose."""
    entries = entries or order_entries(snapshot)
    return FactRow(
        order_id=snapshot.order_id,
        store_id=snapshot.store_id,
        external_id=snapshot.external_id,
        placed_at=snapshot.placed_at,
        currency=snapshot.currency,
        financial_status=snapshot.financial_status.value,
        cancelled_at=snapshot.cancelled_at,
        total=snapshot.total,
        net_paid=snapshot.net_paid,
        customer_ref=snapshot.customer.external_id,
        version=snapshot.version,
        # The contract fills updated_at from placed_at when the shop left it out.
        updated_at=snapshot.updated_at or snapshot.placed_at,
        counted=entries.counted,
        net_sales=entries.net_sales,
    )


def order_fact(snapshot: OrderSnapshot, *, customer_id: str | None) -> OrderFact:
    """`fact_row` as the table's model, with the order's customer."""
    return OrderFact(**fact_row(snapshot)._asdict(), customer_id=customer_id)


class AttributionRow(NamedTuple):
    """An `order_attributions` row."""

    order_id: str
    customer_id: str
    store_id: str
    attributed_at: datetime


def attribution_row(
    attributed: CustomerOrderAttributed, *, customer_id: str, at: datetime
) -> AttributionRow:
    return AttributionRow(
        order_id=attributed.order_id,
        customer_id=customer_id,
        store_id=attributed.store_id,
        attributed_at=at,
    )
