from typing import Annotated

from crm_common.auth import Principal
from crm_common.db import transaction
from crm_common.problems import NotFound
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from customer_profile.addresses import service as addresses
from customer_profile.attributes import service as attributes
from customer_profile.customers import service
from customer_profile.customers.schemas import (
    MERGED_REDIRECT,
    CustomerList,
    CustomerRead,
    MergedCustomer,
)
from customer_profile.deps import Caller, PersonalDataDep, SessionsDep
from customer_profile.privacy import audit
from customer_profile.privacy.deps import personal_data_read
from customer_profile.privacy.exceptions import ERASED
from customer_profile.scoring import service as scoring
from customer_profile.scoring.deps import ScoringRulesDep

router = APIRouter(prefix="/v1/customers", tags=["customers"])

# Reads of one customer's personal data are audited; an erased customer answers 410.
ProfileReader = Annotated[Principal, Depends(personal_data_read(audit.READ))]


@router.get("")
async def find_customers(
    sessions: SessionsDep,
    principal: Caller,
    rules: ScoringRulesDep,
    unmasked: PersonalDataDep,
    email: str | None = None,
    phone: str | None = None,
    region: str | None = None,
    store_id: str | None = None,
    external_id: str | None = None,
) -> CustomerList:
    """The customer an email, a phone (local numbers need `region`) or a shop's customer id
    points at; exactly one of the three lookups. Personal data masked for roles without the
    right to it."""
    async with transaction(sessions) as session:
        found = await service.find_customers(
            session=session,
            email=email,
            phone=phone,
            region=region,
            store_id=store_id,
            external_id=external_id,
        )
        audit.record(
            session=session,
            actor=principal.subject,
            action=audit.LOOKUP,
            customer_ids=[view.customer.customer_id for view in found],
        )
        scores = [
            await scoring.profile_scores(session=session, customer=view.customer, rules=rules)
            for view in found
        ]
        ids = [view.customer.customer_id for view in found]
        held = await attributes.attributes_of_many(session=session, customer_ids=ids)
        places = [await addresses.addresses_of(session=session, customer_id=i) for i in ids]
    items = [
        CustomerRead.of(
            view.customer,
            view.identities,
            score,
            attributes=held[view.customer.customer_id],
            addresses=place,
        )
        for view, score, place in zip(found, scores, places, strict=True)
    ]
    return CustomerList(items=items if unmasked else [item.masked() for item in items])


@router.get(
    "/{customer_id}",
    response_model=CustomerRead,
    responses={**MERGED_REDIRECT, 404: {"description": "no customer by that id"}, **ERASED},
)
async def read_customer(
    customer_id: str,
    sessions: SessionsDep,
    _: ProfileReader,
    rules: ScoringRulesDep,
    unmasked: PersonalDataDep,
) -> CustomerRead | JSONResponse:
    """One customer: contact data, identities and order statistics (personal data masked for
    roles without the right to it). A merged customer answers 308 to its survivor (not
    cacheable: an undo of the merge ends the redirect)."""
    async with sessions() as session:
        view = await service.get_customer(session=session, customer_id=customer_id)
        survivor = (
            await service.survivor_of(session=session, customer_id=customer_id)
            if view is not None and view.customer.merged_into is not None
            else None
        )
        scores = (
            await scoring.profile_scores(session=session, customer=view.customer, rules=rules)
            if view is not None and survivor is None
            else None
        )
        held, places = None, []
        if scores is not None:
            held = await attributes.attributes_of(session=session, customer_id=customer_id)
            places = await addresses.addresses_of(session=session, customer_id=customer_id)
    if view is None:
        raise NotFound(f"customer {customer_id}")
    if survivor is not None:
        body = MergedCustomer(customer_id=customer_id, merged_into=survivor)
        return JSONResponse(
            body.model_dump(),
            status_code=308,
            headers={"Location": f"/v1/customers/{survivor}", "Cache-Control": "no-store"},
        )
    read = CustomerRead.of(
        view.customer, view.identities, scores, attributes=held, addresses=places
    )
    return read if unmasked else read.masked()
