"""The KPI aggregate on a real PostgreSQL database, fed through the fact rules."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from analytics.kpis import service
from analytics.kpis.exceptions import MixedCurrencies
from crm_common.envelope import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

Apply = Callable[[CloudEvent[Any]], Awaitable[None]]
START = datetime(2023, 3, 1, tzinfo=UTC)
END = datetime(2023, 4, 1, tzinfo=UTC)


async def kpis(sessions: async_sessionmaker[AsyncSession], store_id: str, **kwargs: Any) -> Any:
    window = {"start": START, "end": END, **kwargs}
    async with sessions() as session:
        return await service.get_kpis(session=session, store_id=store_id, **window)


async def test_buyers_are_attributed_customers_or_else_the_shop_reference(
    sessions: async_sessionmaker[AsyncSession], apply: Apply, make: Any, store_id: str
) -> None:
    day = timedelta(days=1)
    orders = [
        # two orders of one shop customer, one of them attributed: still two buyers until the
        # other one is attributed too
        make.order(store_id=store_id, placed_at=START, net_paid="10.00", customer_ref="r1"),
        make.order(store_id=store_id, placed_at=START + day, net_paid="20.00", customer_ref="r1"),
        # another attributed customer with one order, no shop reference
        make.order(store_id=store_id, placed_at=START + 2 * day, net_paid="30.00"),
        # nobody knows whose: counted as an order, not as a buyer
        make.order(store_id=store_id, placed_at=START + 3 * day, net_paid="40.01"),
        # the same shop reference in another store is another buyer, and not in this window
        make.order(store_id=make.new_id("store"), placed_at=START, customer_ref="r1"),
    ]
    for order in orders:
        await apply(make.order_event(order))
    await apply(
        make.attribution_event(order_id=orders[0].order_id, customer_id="c1", store_id=store_id)
    )
    await apply(
        make.attribution_event(order_id=orders[2].order_id, customer_id="c2", store_id=store_id)
    )

    before = await kpis(sessions, store_id)
    await apply(
        make.attribution_event(order_id=orders[1].order_id, customer_id="c1", store_id=store_id)
    )
    after = await kpis(sessions, store_id)

    assert (before.orders, before.customers, str(before.repeat_purchase_rate)) == (
        4,
        3,
        "0.0000",
    )
    assert before.revenue == Decimal("100.01")
    assert str(before.aov) == "25.00"
    assert (after.orders, after.customers, str(after.repeat_purchase_rate)) == (4, 2, "0.5000")


async def test_the_window_is_half_open_and_cancelled_orders_do_not_count(
    sessions: async_sessionmaker[AsyncSession], apply: Apply, make: Any, store_id: str
) -> None:
    second = timedelta(seconds=1)
    counted = [
        make.order(store_id=store_id, placed_at=START, net_paid="1.00", customer_ref="a"),
        make.order(store_id=store_id, placed_at=END - second, net_paid="2.00", customer_ref="a"),
    ]
    left_out = [
        make.order(store_id=store_id, placed_at=START - second, customer_ref="a"),
        make.order(store_id=store_id, placed_at=END, customer_ref="a"),
    ]
    cancelled = make.order(store_id=store_id, placed_at=START, net_paid="0", customer_ref="b")
    for order in [*counted, *left_out, cancelled]:
        await apply(make.order_event(order))
    await apply(
        make.order_event(
            cancelled.model_copy(update={"cancelled_at": START + second, "version": 2}),
            "crm.order.cancelled",
        )
    )

    result = await kpis(sessions, store_id)

    assert (result.orders, result.customers, result.currency) == (2, 1, "USD")
    assert str(result.revenue) == "3.00"
    assert str(result.repeat_purchase_rate) == "1.0000"


async def test_several_currencies_need_a_choice(
    sessions: async_sessionmaker[AsyncSession], apply: Apply, make: Any, store_id: str
) -> None:
    for currency, paid in (("USD", "10.00"), ("EUR", "7.00"), ("EUR", "8.00")):
        order = make.order(
            store_id=store_id, placed_at=START, net_paid=paid, currency=currency, customer_ref="x"
        )
        await apply(make.order_event(order))

    with pytest.raises(MixedCurrencies):
        await kpis(sessions, store_id)
    euros = await kpis(sessions, store_id, currency="EUR")
    dollars = await kpis(sessions, store_id, currency="USD")

    assert (euros.orders, str(euros.revenue), euros.currency) == (2, "15.00", "EUR")
    assert (dollars.orders, str(dollars.revenue), dollars.currency) == (1, "10.00", "USD")
    assert str(euros.repeat_purchase_rate) == "1.0000"
