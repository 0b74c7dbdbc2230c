from crm_common.db import transaction
from crm_events.shop import CanonicalOrder
from fastapi import APIRouter, status

from order_sync.deps import Admin, Reader, SessionsDep, SettingsDep
from order_sync.orders import service
from order_sync.orders.schemas import OrderAccepted, OrderRead

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def submit_order(
    order: CanonicalOrder, sessions: SessionsDep, settings: SettingsDep, _: Admin
) -> OrderAccepted:
    """Store a canonical shop order (created, updated, or unchanged when it is not newer)."""
    async with transaction(sessions) as session:
        outcome = await service.upsert_order(
            session=session, order=order, topic=settings.orders_topic
        )
    return OrderAccepted(order_id=outcome.order_id, status=outcome.status)


@router.get("/{order_id}")
async def read_order(order_id: str, sessions: SessionsDep, _: Reader) -> OrderRead:
    """A stored order as order-sync last announced it."""
    async with sessions() as session:
        order = await service.get_order(session=session, order_id=order_id)
    return OrderRead.model_validate(order.model_dump())
