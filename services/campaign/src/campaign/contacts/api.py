from crm_common.problems import NotFound
from fastapi import APIRouter

from campaign.contacts import service
from campaign.contacts.schemas import ContactRead
from campaign.deps import Reader, SessionsDep

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


@router.get(
    "/{customer_id}",
    responses={404: {"description": "no contact by that id (nor by the id it was merged into)"}},
)
async def read_contact(customer_id: str, _: Reader, sessions: SessionsDep) -> ContactRead:
    """A customer's contact data as campaigns see it (merges followed)."""
    async with sessions() as session:
        contact = await service.get_contact(session=session, customer_id=customer_id)
    if contact is None:
        raise NotFound(f"contact {customer_id}")
    return ContactRead.model_validate(contact, from_attributes=True)
