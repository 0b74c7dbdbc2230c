"""crm.customers.v1 events to the contact list's own terms."""

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

from campaign.contacts.models import Contact

CustomerChange = CustomerSnapshot | CustomerMerged | CustomerUnmerged | CustomerErased


def customer_change(event: CloudEvent[dict[str, object]]) -> CustomerChange | None:
    """The change `event` announces, or None for event types campaigns keep nothing of.

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


def contact_from(customer: CustomerSnapshot) -> Contact:
    return Contact(
        customer_id=customer.customer_id,
        email=customer.email,
        phone=customer.phone,
        first_name=customer.first_name,
        last_name=customer.last_name,
        accepts_marketing=customer.accepts_marketing,
        version=customer.version,
        updated_at=customer.updated_at,
    )
