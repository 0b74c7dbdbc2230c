"""crm.customers.v1 events to the support desk's own terms."""

from crm_common.envelope import CloudEvent
from crm_events.customer import (
    CUSTOMER_CREATED,
    CUSTOMER_ERASED,
    CUSTOMER_MERGED,
    CUSTOMER_UNMERGED,
    CUSTOMER_UPDATED,
    CustomerErased,
    CustomerMerged,
    CustomerSnapshot,
    CustomerUnmerged,
)

from support_ticket.customers.models import Customer

CustomerChange = CustomerSnapshot | CustomerMerged | CustomerUnmerged | CustomerErased


def customer_change(event: CloudEvent[dict[str, object]]) -> CustomerChange | None:
    """The change `event` announces, or None for event types support keeps nothing of.

    Raises pydantic's ValidationError when the data breaks its contract (the event is then
    dead-lettered).
    """
    match event.type:
        case CUSTOMER_CREATED.type | CUSTOMER_UPDATED.type:
            return CustomerSnapshot.model_validate(event.data)
        case CUSTOMER_MERGED.type:
            return CustomerMerged.model_validate(event.data)
        case CUSTOMER_UNMERGED.type:
            return CustomerUnmerged.model_validate(event.data)
        case CUSTOMER_ERASED.type:
            return CustomerErased.model_validate(event.data)
        case _:
            return None


def customer_from(snapshot: CustomerSnapshot) -> Customer:
    return Customer(
        customer_id=snapshot.customer_id,
        email=snapshot.email,
        phone=snapshot.phone,
        first_name=snapshot.first_name,
        last_name=snapshot.last_name,
        version=snapshot.version,
        updated_at=snapshot.updated_at,
    )
