from datetime import UTC, datetime
from typing import Annotated

from crm_common.auth import Principal
from crm_common.db import transaction
from crm_common.problems import NotFound
from crm_events.customer import ConsentChannel, ConsentPurpose
from fastapi import APIRouter, Depends

from customer_profile.consents import flows, service
from customer_profile.consents.rules import Outcome
from customer_profile.consents.schemas import (
    ConsentChange,
    ConsentChangeResult,
    ConsentLogRead,
    ConsentRead,
    CustomerConsents,
)
from customer_profile.customers import repository as customers
from customer_profile.deps import SessionsDep
from customer_profile.privacy import audit
from customer_profile.privacy.deps import CustomersTopic, personal_data_read
from customer_profile.privacy.exceptions import ERASED

router = APIRouter(prefix="/v1/customers", tags=["consents"])

ConsentsReader = Annotated[Principal, Depends(personal_data_read(audit.CONSENTS_READ))]


@router.get(
    "/{customer_id}/consents", responses={404: {"description": "no customer by that id"}, **ERASED}
)
async def read_consents(
    customer_id: str, sessions: SessionsDep, _: ConsentsReader
) -> CustomerConsents:
    """The consent in force per channel and purpose, and the log of every change."""
    async with sessions() as session:
        if await customers.get_customer(session=session, customer_id=customer_id) is None:
            raise NotFound(f"customer {customer_id}")
        view = await service.consents_view(session=session, customer_id=customer_id)
    return CustomerConsents(
        customer_id=customer_id,
        consents=[ConsentRead.of(row) for row in view.consents],
        log=[ConsentLogRead.of_entry(row) for row in view.log],
    )


@router.put(
    "/{customer_id}/consents/{channel}/{purpose}",
    responses={
        404: {"description": "no customer by that id"},
        409: {
            "description": "a newer decision is in force, or the customer was merged into "
            "another (record it on the survivor): nothing is recorded"
        },
        **ERASED,
    },
)
async def change_consent(
    customer_id: str,
    channel: ConsentChannel,
    purpose: ConsentPurpose,
    change: ConsentChange,
    sessions: SessionsDep,
    topic: CustomersTopic,
) -> ConsentChangeResult:
    """Record a consent decision (admin or marketer); `changed` is false when it was in force
    already."""
    async with transaction(sessions) as session:
        recorded = await flows.change_consent(
            session=session,
            customer_id=customer_id,
            channel=channel,
            purpose=purpose,
            change=change,
            customers_topic=topic,
            now=datetime.now(UTC),
        )
    assert recorded.consent is not None
    return ConsentChangeResult(
        **ConsentRead.of(recorded.consent).model_dump(),
        customer_id=customer_id,
        changed=recorded.outcome is Outcome.APPLIED,
    )
