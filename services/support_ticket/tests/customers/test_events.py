from datetime import UTC, datetime

import pytest
from crm_common.envelope import CloudEvent
from crm_events.customer import (
    CUSTOMER_CREATED,
    CUSTOMER_ERASED,
    CUSTOMER_IDENTITY_LINKED,
    CUSTOMER_MERGED,
    CUSTOMER_UNMERGED,
    CustomerErased,
    CustomerMerged,
    CustomerSnapshot,
    CustomerUnmerged,
)
from pydantic import ValidationError
from support_ticket.customers.events import customer_change, customer_from
from support_ticket.customers.models import Customer


def raw(event_type: str, data: dict[str, object]) -> CloudEvent[dict[str, object]]:
    return CloudEvent[dict[str, object]](source="test", type=event_type, data=data)


def test_snapshot_becomes_a_customer_with_its_version(new_customer):
    data = new_customer(version=3)
    change = customer_change(raw(CUSTOMER_CREATED.type, data))

    assert isinstance(change, CustomerSnapshot)
    assert customer_from(change) == Customer(
        customer_id=data["customer_id"],
        email=data["email"],
        phone=data["phone"],
        first_name=data["first_name"],
        last_name=data["last_name"],
        version=3,
        updated_at=data["updated_at"],
    )


def test_customer_is_stored_under_its_id_and_read_back(new_customer):
    customer = customer_from(CustomerSnapshot.model_validate(new_customer()))
    document = {"_id": customer.customer_id, **customer.model_dump(exclude={"customer_id"})}

    assert Customer.model_validate(document) == customer


def test_merge_unmerge_and_erasure_are_parsed_with_their_contracts():
    at = datetime(2026, 11, 4, 9, tzinfo=UTC)
    merge = {"merge_id": "m-1", "survivor_id": "a", "merged_id": "b", "merged_at": at}
    unmerge = {"merge_id": "m-1", "survivor_id": "a", "merged_id": "b", "unmerged_at": at}
    erase = {"customer_id": "a", "erased_at": at}

    assert customer_change(raw(CUSTOMER_MERGED.type, merge)) == CustomerMerged(**merge)
    assert customer_change(raw(CUSTOMER_UNMERGED.type, unmerge)) == CustomerUnmerged(**unmerge)
    assert customer_change(raw(CUSTOMER_ERASED.type, erase)) == CustomerErased(**erase)


def test_events_support_keeps_nothing_of_are_skipped():
    linked = {"customer_id": "a", "identity": {"kind": "email", "value": "a@example.com"}}
    assert customer_change(raw(CUSTOMER_IDENTITY_LINKED.type, linked)) is None
    assert customer_change(raw("crm.customer.something_new", {})) is None


def test_data_breaking_the_contract_is_rejected():
    merge = {"merge_id": "m-1", "survivor_id": "a", "merged_id": "a", "merged_at": "2026-11-04"}
    with pytest.raises(ValidationError):
        customer_change(raw(CUSTOMER_MERGED.type, merge))
