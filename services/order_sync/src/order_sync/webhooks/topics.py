from dataclasses import dataclass

from order_sync.config import Settings


@dataclass(frozen=True, slots=True)
class Topics:
    """Where what a delivery owes is announced."""

    orders: str
    """crm.orders.v1: orders' lifecycle events."""
    carts: str
    """crm.carts.v1: checkouts' events."""
    activity: str
    """shop.activity.v1: the shop customer accounts relayed in canonical form."""

    @classmethod
    def of(cls, settings: Settings) -> "Topics":
        return cls(
            orders=settings.orders_topic,
            carts=settings.carts_topic,
            activity=settings.activity_topic,
        )
