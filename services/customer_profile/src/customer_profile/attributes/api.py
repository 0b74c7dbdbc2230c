from datetime import UTC, datetime
from email.message import Message
from typing import Annotated

from crm_common.db import transaction
from crm_common.outbox import add_event
from fastapi import APIRouter, Body, Depends, Request

from customer_profile.attributes import flows
from customer_profile.attributes.exceptions import MERGE_PATCH_JSON, NotMergePatch
from customer_profile.attributes.schemas import AttributesRead, CustomerPatch
from customer_profile.deps import Caller, SessionsDep
from customer_profile.privacy import audit
from customer_profile.privacy.deps import CustomersTopic
from customer_profile.privacy.exceptions import ERASED

router = APIRouter(prefix="/v1/customers", tags=["customers"])

UPDATE = "customer.attributes.update"
"""The audit action: the answer shows the customer's traits."""


async def merge_patch_body(request: Request) -> None:
    """Only `application/merge-patch+json` says how the body applies; anything else is 415."""
    header = request.headers.get("content-type", "")
    parsed = Message()
    parsed["content-type"] = header
    if parsed.get_content_type() != MERGE_PATCH_JSON:
        raise NotMergePatch(header)


@router.patch(
    "/{customer_id}",
    dependencies=[Depends(merge_patch_body)],
    openapi_extra={
        "requestBody": {
            "content": {
                MERGE_PATCH_JSON: {"schema": {"$ref": "#/components/schemas/CustomerPatch"}}
            }
        }
    },
    responses={
        404: {"description": "no customer by that id"},
        409: {"description": "the customer was merged into another: change the survivor"},
        **ERASED,
        415: {
            "description": f"the body is not {MERGE_PATCH_JSON}",
            "headers": {"Accept-Patch": {"required": True, "schema": {"type": "string"}}},
        },
    },
)
async def patch_customer(
    customer_id: str,
    patch: Annotated[CustomerPatch, Body(media_type=MERGE_PATCH_JSON)],
    sessions: SessionsDep,
    topic: CustomersTopic,
    principal: Caller,
) -> AttributesRead:
    """Change the customer's traits (an RFC 7396 merge patch) and tags (`set`, or `add` and
    `remove`); marketers, agents and admins. Publishes `crm.customer.updated` when anything
    changed. Marketers segment by them, agents note what they learn (access.py)."""
    async with transaction(sessions) as session:
        read, outgoing = await flows.patch_customer(
            session=session, customer_id=customer_id, patch=patch, now=datetime.now(UTC)
        )
        for event in outgoing:
            add_event(session, topic=topic, key=customer_id, event=event)
        audit.record(
            session=session, actor=principal.subject, action=UPDATE, customer_ids=[customer_id]
        )
    return read
