from datetime import UTC, datetime
from typing import Annotated

from crm_common.db import transaction
from fastapi import APIRouter, Query

from customer_profile.customers.schemas import CustomerRead
from customer_profile.deps import Reader, SessionsDep
from customer_profile.privacy import audit
from customer_profile.scoring.deps import ScoringRulesDep
from customer_profile.scoring.rules import LifecycleStage
from customer_profile.search import service
from customer_profile.search.schemas import CustomerPage

# `/v1/customers:search` beside `/v1/customers` (exactly one identity lookup) and the other
# `:verb` routes; it cannot be taken for `/v1/customers/{customer_id}`.
router = APIRouter(tags=["customers"])

SEARCH = "customer.search"
"""The audit action: each customer a search shows."""


@router.get("/v1/customers:search")
async def search_customers(
    sessions: SessionsDep,
    principal: Reader,
    rules: ScoringRulesDep,
    email: str | None = None,
    phone: str | None = None,
    region: str | None = None,
    store_id: str | None = None,
    external_id: str | None = None,
    name: str | None = None,
    tag: Annotated[list[str] | None, Query()] = None,
    stage: LifecycleStage | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CustomerPage:
    """Customers matching every filter given (at least one): `email`, `phone` (local numbers
    need `region`), `store_id` with `external_id` (exact identities), `name` (words each
    starting the first or last name, accents and case ignored), `tag` (repeatable: all of
    them), `stage` (lifecycle stage now). Pages in customer_id order; audited."""
    filters = service.SearchFilters(
        email=email,
        phone=phone,
        region=region,
        store_id=store_id,
        external_id=external_id,
        name=name,
        tags=tuple(tag or ()),
        stage=stage,
    )
    async with transaction(sessions) as session:
        page = await service.search(
            session=session,
            filters=filters,
            rules=rules,
            cursor=cursor,
            limit=limit,
            now=datetime.now(UTC),
        )
        await audit.record_shown(
            session=session,
            actor=principal.subject,
            action=SEARCH,
            customer_ids=[hit.customer.customer_id for hit in page.hits],
        )
    return CustomerPage(
        items=[
            CustomerRead.of(hit.customer, [], hit.scores, attributes=hit.attributes)
            for hit in page.hits
        ],
        next_cursor=page.next_cursor,
        as_of=page.as_of,
    )
