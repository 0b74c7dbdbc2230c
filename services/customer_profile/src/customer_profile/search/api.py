from datetime import UTC, datetime
from typing import Annotated, Any

from crm_common.access import mask_email, mask_phone, mask_text
from fastapi import APIRouter, Query

from customer_profile.deps import Caller, PersonalDataDep, SessionsDep
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
    principal: Caller,
    rules: ScoringRulesDep,
    unmasked: PersonalDataDep,
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
    them), `stage` (lifecycle stage now). Pages in customer_id order; audited; personal data
    masked for roles without the right to it."""
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
    now = datetime.now(UTC)
    # No transaction block: the search is one statement, which writes the page's audit entries
    # itself and commits them (repository.search_page).
    async with sessions() as session:
        page = await service.search(
            session=session,
            filters=filters,
            rules=rules,
            cursor=cursor,
            limit=limit,
            now=now,
            shown=audit.Shown(actor=principal.subject, action=SEARCH, at=now),
        )
    # Validated as one document: cheaper than a model built per item.
    return CustomerPage.model_validate(
        {
            "items": [_item(hit, unmasked=unmasked) for hit in page.hits],
            "next_cursor": page.next_cursor,
            "as_of": page.as_of,
        }
    )


def _item(hit: service.Hit, *, unmasked: bool) -> dict[str, Any]:
    """A `CustomerRead` as the profile shows it, with no identities, RFM or addresses (given,
    so that pydantic does not copy its defaults for them)."""
    (
        customer_id,
        email,
        phone,
        first_name,
        last_name,
        accepts_marketing,
        orders_count,
        total_spent,
        currency,
        first_order_at,
        last_order_at,
        version,
        created_at,
        updated_at,
        merged_into,
        tags,
        traits,
    ) = hit.customer
    if not unmasked:
        email, phone = mask_email(email), mask_phone(phone)
        first_name, last_name = mask_text(first_name), mask_text(last_name)
    return {
        "customer_id": customer_id,
        "email": email,
        "phone": phone,
        "first_name": first_name,
        "last_name": last_name,
        "accepts_marketing": accepts_marketing,
        "identities": [],
        "stats": {
            "orders_count": orders_count,
            "total_spent": total_spent,
            "currency": currency,
            "first_order_at": first_order_at,
            "last_order_at": last_order_at,
        },
        "version": version,
        "created_at": created_at,
        "updated_at": updated_at,
        "merged_into": merged_into,
        "lifecycle_stage": hit.lifecycle_stage,
        "value_tier": hit.value_tier,
        "rfm": [],
        "tags": tags or [],
        "traits": traits or {},
        "addresses": [],
    }
