from typing import Annotated

from crm_common.access import SeesPersonalData
from crm_common.db import transaction
from crm_common.problems import Forbidden
from crm_events.shop import CanonicalOrder, FinancialStatus, FulfillmentStatus
from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime

from order_sync.deps import IntakeDep, SessionsDep, SettingsDep
from order_sync.orders import bulk, listing, records, service
from order_sync.orders.schemas import (
    BatchResult,
    OrderAccepted,
    OrderBatch,
    OrderFilters,
    OrderPage,
    OrderRead,
)

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def submit_order(order: CanonicalOrder, intake: IntakeDep) -> OrderAccepted:
    """Accept a canonical shop order, to be stored like every shop's order from shop.orders.v1
    (created, updated, or unchanged when it is not newer): answered once the broker holds it."""
    return OrderAccepted(order_id=await intake.accept(order))


@router.post(":batch")
async def submit_orders(
    batch: OrderBatch,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> BatchResult:
    """Store up to 1,000 canonical orders, each validated on its own; one result per order, in
    input order (rejected ones with their errors), the valid ones stored in one transaction."""
    async with transaction(sessions) as session:
        results = await bulk.submit_batch(
            session=session, items=batch.orders, topic=settings.orders_topic
        )
    return BatchResult(results=results)


@router.get("")
async def list_orders(
    sessions: SessionsDep,
    unmasked: SeesPersonalData,
    store_id: str | None = None,
    customer_external_id: str | None = None,
    customer_email: str | None = None,
    financial_status: Annotated[list[FinancialStatus] | None, Query()] = None,
    fulfillment_status: Annotated[list[FulfillmentStatus] | None, Query()] = None,
    cancelled: bool | None = None,
    placed_from: AwareDatetime | None = None,
    placed_to: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> OrderPage:
    """Stored orders, newest first, filtered and cursor-paginated (`next_cursor`, null at the
    end). A status filter may be repeated to match any of several; `placed_from` is inclusive,
    `placed_to` exclusive. Personal data is masked for roles without the right to it, and only
    they may look orders up by `customer_email`."""
    if customer_email is not None and not unmasked:
        # Otherwise the filter would tell a masked reader whose address an order carries.
        raise Forbidden("filtering by customer_email takes a role that may see personal data")
    filters = OrderFilters(
        store_id=store_id,
        customer_external_id=customer_external_id,
        customer_email=customer_email,
        financial_status=[s.value for s in financial_status] if financial_status else None,
        fulfillment_status=[s.value for s in fulfillment_status] if fulfillment_status else None,
        cancelled=cancelled,
        placed_from=placed_from,
        placed_to=placed_to,
    )
    async with sessions() as session:
        page = await listing.list_orders(
            session=session, filters=filters, limit=limit, cursor=cursor
        )
    if unmasked:
        return page
    return page.model_copy(update={"orders": [order.masked() for order in page.orders]})


@router.get("/{order_id}", responses={404: {"description": "no such order"}})
async def read_order(order_id: str, sessions: SessionsDep, unmasked: SeesPersonalData) -> OrderRead:
    """A stored order as order-sync last announced it, its personal data masked for roles
    without the right to it."""
    async with sessions() as session:
        order = await service.get_order(session=session, order_id=order_id)
    read = records.read_model(order)
    return read if unmasked else read.masked()
