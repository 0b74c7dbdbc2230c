from crm_common.problems import NotFound
from fastapi import APIRouter

from customer_profile.customers import service
from customer_profile.customers.schemas import CustomerList, CustomerRead
from customer_profile.deps import Reader, SessionsDep

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get("")
async def find_customers(
    sessions: SessionsDep,
    _: Reader,
    email: str | None = None,
    phone: str | None = None,
    region: str | None = None,
    store_id: str | None = None,
    external_id: str | None = None,
) -> CustomerList:
    """The customer an email, a phone (local numbers need `region`) or a shop's customer id
    points at; exactly one of the three lookups."""
    async with sessions() as session:
        found = await service.find_customers(
            session=session,
            email=email,
            phone=phone,
            region=region,
            store_id=store_id,
            external_id=external_id,
        )
    return CustomerList(items=[CustomerRead.of(view.customer, view.identities) for view in found])


@router.get("/{customer_id}")
async def read_customer(customer_id: str, sessions: SessionsDep, _: Reader) -> CustomerRead:
    """One customer: contact data, identities and order statistics."""
    async with sessions() as session:
        view = await service.get_customer(session=session, customer_id=customer_id)
    if view is None:
        raise NotFound(f"customer {customer_id}")
    return CustomerRead.of(view.customer, view.identities)
