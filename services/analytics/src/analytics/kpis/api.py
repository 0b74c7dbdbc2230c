from typing import Annotated

from fastapi import APIRouter, Query

from analytics.deps import SessionsDep
from analytics.kpis import service
from analytics.kpis.schemas import KpiQuery, KpiRead

router = APIRouter(prefix="/v1/kpis", tags=["kpis"])


@router.get("", responses={409: {"description": "the window holds more than one currency"}})
async def read_kpis(query: Annotated[KpiQuery, Query()], sessions: SessionsDep) -> KpiRead:
    """Orders, revenue, customers, AOV and repeat purchase rate of a store over [from, to)."""
    async with sessions() as session:
        kpis = await service.get_kpis(
            session=session,
            store_id=query.store_id,
            start=query.start,
            end=query.end,
            currency=query.currency,
        )
    return KpiRead(
        store_id=query.store_id,
        start=query.start,
        end=query.end,
        currency=kpis.currency,
        orders=kpis.orders,
        revenue=kpis.revenue,
        customers=kpis.customers,
        aov=kpis.aov,
        repeat_purchase_rate=kpis.repeat_purchase_rate,
    )
