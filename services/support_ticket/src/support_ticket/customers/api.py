from crm_common.problems import NotFound
from fastapi import APIRouter

from support_ticket.customers import service
from support_ticket.customers.schemas import CustomerRead
from support_ticket.deps import DatabaseDep, PersonalDataDep

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get(
    "/{customer_id}",
    responses={404: {"description": "no customer by that id (nor by the id it was merged into)"}},
)
async def read_customer(
    customer_id: str, database: DatabaseDep, unmasked: PersonalDataDep
) -> CustomerRead:
    """A customer as the support desk sees them (merges followed; masked for roles without the
    personal-data right)."""
    customer = await service.get_customer(database=database, customer_id=customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id}")
    read = CustomerRead.model_validate(customer, from_attributes=True)
    return read if unmasked else read.masked()
