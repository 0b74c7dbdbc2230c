from crm_common.problems import NotFound
from fastapi import APIRouter

from campaign.contacts import service
from campaign.contacts.schemas import ContactRead
from campaign.deps import PersonalDataDep, SessionsDep

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


@router.get(
    "/{customer_id}",
    responses={404: {"description": "no contact by that id (nor by the id it was merged into)"}},
)
async def read_contact(
    customer_id: str, sessions: SessionsDep, unmasked: PersonalDataDep
) -> ContactRead:
    """A customer's contact data as campaigns see it (merges followed; masked for roles without
    the personal-data right)."""
    async with sessions() as session:
        contact = await service.get_contact(session=session, customer_id=customer_id)
    if contact is None:
        raise NotFound(f"contact {customer_id}")
    read = ContactRead.model_validate(contact, from_attributes=True)
    return read if unmasked else read.masked()
