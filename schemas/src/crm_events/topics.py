"""Every Kafka topic of the suite (see ARCHITECTURE.md, Topics); the key of each is noted."""

__all__ = [
    "ALL_TOPICS",
    "CRM_CARTS",
    "CRM_CUSTOMERS",
    "CRM_INSIGHTS",
    "CRM_INVENTORY",
    "CRM_MESSAGES",
    "CRM_ORDERS",
    "CRM_SEGMENTS",
    "CRM_TICKETS",
    "SHOP_ACTIVITY",
    "SHOP_ORDERS",
    "dlq",
]

SHOP_ORDERS = "shop.orders.v1"
"""Orders from the shops in our canonical format; key: the shop's order id."""
SHOP_ACTIVITY = "shop.activity.v1"
"""Storefront behaviour; key: the shop's customer reference."""
CRM_ORDERS = "crm.orders.v1"
"""Order lifecycle from order-sync; key: order id."""
CRM_CARTS = "crm.carts.v1"
"""Carts, checkouts and abandoned checkouts from order-sync; key: cart id."""
CRM_INVENTORY = "crm.inventory.v1"
"""Stock levels from order-sync; key: sku."""
CRM_CUSTOMERS = "crm.customers.v1"
"""Customers, identity links, merges and erasures from customer-profile; key: customer id."""
CRM_MESSAGES = "crm.messages.v1"
"""Messages and coupons from campaign; key: customer id."""
CRM_TICKETS = "crm.tickets.v1"
"""Tickets from support-ticket; key: ticket id."""
CRM_INSIGHTS = "crm.insights.v1"
"""Predictions from analytics; key: customer id."""
CRM_SEGMENTS = "crm.segments.v1"
"""Segment entries and exits from campaign; key: customer id."""

ALL_TOPICS = (
    SHOP_ORDERS,
    SHOP_ACTIVITY,
    CRM_ORDERS,
    CRM_CARTS,
    CRM_INVENTORY,
    CRM_CUSTOMERS,
    CRM_MESSAGES,
    CRM_TICKETS,
    CRM_INSIGHTS,
    CRM_SEGMENTS,
)


def dlq(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return f"{topic}.dlq"
