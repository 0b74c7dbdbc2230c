"""The event contracts analytics reads, mapped to its own rows."""

from datetime import datetime

from crm_events.customer import CustomerOrderAttributed
from crm_events.order import OrderSnapshot

from analytics.facts.models import OrderAttribution, OrderFact

ORDER_EVENT_PREFIX = "crm.order."
ORDER_ATTRIBUTED = "crm.customer.order_attributed"
CUSTOMER_MERGED = "crm.customer.merged"
CUSTOMER_UNMERGED = "crm.customer.unmerged"
CUSTOMER_EVENTS_APPLIED = frozenset({ORDER_ATTRIBUTED, CUSTOMER_MERGED, CUSTOMER_UNMERGED})
CUSTOMER_ERASED = "crm.customer.erased"


def order_fact(snapshot: OrderSnapshot, *, customer_id: str | None) -> OrderFact:
    """The fact of an order snapshot; contact details and lines are left behind on purpose."""
    return OrderFact(
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
        customer_id=customer_id,
        version=snapshot.version,
        # The contract fills updated_at from placed_at when the shop left it out.
        updated_at=snapshot.updated_at or snapshot.placed_at,
    )


def order_attribution(
    attributed: CustomerOrderAttributed, *, customer_id: str, at: datetime
) -> OrderAttribution:
    return OrderAttribution(
        order_id=attributed.order_id,
        customer_id=customer_id,
        store_id=attributed.store_id,
        attributed_at=at,
    )
