from datetime import UTC, datetime
from typing import Annotated

from crm_common.auth import Principal
from crm_common.db import transaction
from crm_common.problems import NotFound
from fastapi import APIRouter, Depends

from customer_profile.deps import Caller, SessionsDep
from customer_profile.privacy import access, audit, erasure
from customer_profile.privacy.deps import CustomersTopic, personal_data_read
from customer_profile.privacy.exceptions import ERASED
from customer_profile.privacy.schemas import CustomerExport, ErasureRead

# Paths of the form `/v1/customers/{id}:export` would also match `/v1/customers/{id}`: main.py
# includes this router first.
router = APIRouter(prefix="/v1/customers", tags=["privacy"])

Exporter = Annotated[Principal, Depends(personal_data_read(audit.EXPORT))]


@router.get(
    "/{customer_id}:export",
    responses={
        404: {"description": "no customer by that id"},
        409: {"description": "the customer was merged into another: export the survivor"},
        **ERASED,
    },
)
async def export_customer(customer_id: str, sessions: SessionsDep, _: Exporter) -> CustomerExport:
    """Everything held about the customer (admin; audited)."""
    async with sessions() as session:
        found = await access.export_customer(
            session=session, customer_id=customer_id, now=datetime.now(UTC)
        )
    if found is None:
        raise NotFound(f"customer {customer_id}")
    return found


@router.post(
    "/{customer_id}:erase",
    responses={
        404: {"description": "no customer by that id"},
        409: {"description": "the customer was merged into another: erase the survivor"},
    },
)
async def erase_customer(
    customer_id: str, sessions: SessionsDep, topic: CustomersTopic, principal: Caller
) -> ErasureRead:
    """Erase the customer's personal data, keeping an anonymous tombstone (admin; idempotent)."""
    async with transaction(sessions) as session:
        done = await erasure.erase_customer(
            session=session,
            customer_id=customer_id,
            actor=principal.subject,
            customers_topic=topic,
            now=datetime.now(UTC),
        )
    if done is None:
        raise NotFound(f"customer {customer_id}")
    return ErasureRead(
        customer_id=done.customer_id,
        erased_at=done.erased_at,
        erased_ids=done.erased_ids,
        already_erased=done.already_erased,
    )
