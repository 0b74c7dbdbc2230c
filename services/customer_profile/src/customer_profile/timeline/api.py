from typing import Annotated

from crm_common.auth import Principal
from crm_common.problems import NotFound
from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from customer_profile.customers import repository as customers
from customer_profile.customers import service as customer_service
from customer_profile.customers.schemas import MERGED_REDIRECT, MergedCustomer
from customer_profile.deps import SessionsDep
from customer_profile.privacy.deps import personal_data_read
from customer_profile.privacy.exceptions import ERASED
from customer_profile.timeline import service
from customer_profile.timeline.schemas import TimelineEntryRead, TimelinePage

router = APIRouter(prefix="/v1/customers", tags=["timeline"])

TIMELINE_READ = "customer.timeline.read"
# Reads of a customer's history are audited like profile reads; an erased customer answers 410.
TimelineReader = Annotated[Principal, Depends(personal_data_read(TIMELINE_READ))]


@router.get(
    "/{customer_id}/timeline",
    response_model=TimelinePage,
    responses={**MERGED_REDIRECT, 404: {"description": "no customer by that id"}, **ERASED},
)
async def read_timeline(
    customer_id: str,
    sessions: SessionsDep,
    _: TimelineReader,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TimelinePage | JSONResponse:
    """Everything that happened to the customer across the suite, newest first; follow
    `next_cursor` for older entries. A merged customer answers 308 to its survivor's timeline."""
    async with sessions() as session:
        customer = await customers.get_customer(session=session, customer_id=customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id}")
        if customer.merged_into is not None:
            survivor = await customer_service.survivor_of(session=session, customer_id=customer_id)
            body = MergedCustomer(customer_id=customer_id, merged_into=survivor)
            return JSONResponse(
                body.model_dump(),
                status_code=308,
                headers={
                    "Location": f"/v1/customers/{survivor}/timeline",
                    "Cache-Control": "no-store",
                },
            )
        entries, next_cursor = await service.page(
            session=session, customer_id=customer_id, cursor=cursor, limit=limit
        )
    return TimelinePage(
        items=[TimelineEntryRead.of(entry) for entry in entries], next_cursor=next_cursor
    )
