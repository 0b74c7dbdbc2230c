"""What the shop.activity.v1 handler decides before it writes anything."""

from typing import Any

from crm_common.envelope import CloudEvent
from order_sync.carts.consumers import shop_activity_handler
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


def activity(event_type: str, **data: Any) -> CloudEvent[dict[str, Any]]:
    return CloudEvent[dict[str, Any]](source="shop/demo", type=event_type, data=data)


class NoDatabase(async_sessionmaker[AsyncSession]):
    """Fails the test if the handler opens a session."""

    def __call__(self, **_: Any) -> AsyncSession:
        raise AssertionError("the handler touched the database")


async def test_events_of_other_types_are_passed_over_without_a_write() -> None:
    handle = shop_activity_handler(NoDatabase(), topic="unused")
    events = [
        activity("shop.product.viewed", store_id="demo", product_id="p-1", viewed_at="x"),
        activity("shop.customer.identified", store_id="demo"),
        activity("shop.wishlist.added", anything="goes"),
    ]

    assert await handle(events) == {}


async def test_a_cart_or_checkout_breaking_its_contract_is_rejected_at_its_position() -> None:
    handle = shop_activity_handler(NoDatabase(), topic="unused")
    events = [
        activity("shop.product.viewed", store_id="demo"),
        activity(
            "shop.cart.updated",
            store_id="demo",
            cart_id="c-1",
            currency="USD",
            total=12.5,  # a float: money must be a decimal string
            updated_at="2026-11-01T10:00:00Z",
        ),
        activity("shop.checkout.started", store_id="demo", checkout_id="k-1"),
    ]

    rejected = await handle(events)

    assert sorted(rejected) == [1, 2]
    assert all(isinstance(error, ValidationError) for error in rejected.values())
    assert "total" in str(rejected[1])
    assert "started_at" in str(rejected[2])
