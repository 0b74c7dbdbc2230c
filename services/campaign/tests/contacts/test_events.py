from datetime import UTC, datetime

import pytest
from campaign.contacts.events import contact_from, customer_change
from crm_common.envelope import CloudEvent
from crm_events.customer import (
    CUSTOMER_ERASED,
    CUSTOMER_IDENTITY_LINKED,
    CUSTOMER_MERGED,
    CUSTOMER_UNMERGED,
    CUSTOMER_UPDATED,
    CustomerErased,
    CustomerMerged,
    CustomerSnapshot,
    CustomerUnmerged,
)
from pydantic import ValidationError


def raw(event_type: str, data: dict[str, object]) -> CloudEvent[dict[str, object]]:
    return CloudEvent[dict[str, object]](source="test", type=event_type, data=data)


def test_snapshot_becomes_a_contact_with_its_version(new_customer):
    data = new_customer(version=7)
    change = customer_change(raw(CUSTOMER_UPDATED.type, data))

    assert isinstance(change, CustomerSnapshot)
    contact = contact_from(change)
    assert contact.customer_id == data["customer_id"]
    assert (contact.email, contact.phone) == (data["email"], data["phone"])
    assert (contact.first_name, contact.last_name) == (data["first_name"], data["last_name"])
    assert contact.accepts_marketing is True
    assert contact.version == 7
    assert contact.updated_at == data["updated_at"]
    assert contact.erased is False
    assert contact.merged_into is None


def test_merge_unmerge_and_erasure_are_parsed_with_their_contracts():
    at = datetime(2026, 11, 4, 9, tzinfo=UTC)
    merge = {"merge_id": "m-1", "survivor_id": "a", "merged_id": "b", "merged_at": at}
    unmerge = {"merge_id": "m-1", "survivor_id": "a", "merged_id": "b", "unmerged_at": at}
    erase = {"customer_id": "a", "erased_at": at}

    assert customer_change(raw(CUSTOMER_MERGED.type, merge)) == CustomerMerged(**merge)
    assert customer_change(raw(CUSTOMER_UNMERGED.type, unmerge)) == CustomerUnmerged(**unmerge)
    assert customer_change(raw(CUSTOMER_ERASED.type, erase)) == CustomerErased(**erase)


def test_an_unmerge_of_a_customer_into_itself_is_rejected():
    at = datetime(2026, 11, 4, 9, tzinfo=UTC)
    unmerge = {"merge_id": "m-1", "survivor_id": "a", "merged_id": "a", "unmerged_at": at}
    with pytest.raises(ValidationError):
        customer_change(raw(CUSTOMER_UNMERGED.type, unmerge))


def test_events_campaigns_keep_nothing_of_are_skipped():
    linked = {"customer_id": "a", "identity": {"kind": "email", "value": "a@example.com"}}
    assert customer_change(raw(CUSTOMER_IDENTITY_LINKED.type, linked)) is None
    assert customer_change(raw("crm.customer.something_new", {})) is None


def test_data_breaking_the_contract_is_rejected(new_customer):
    with pytest.raises(ValidationError):
        customer_change(raw(CUSTOMER_UPDATED.type, new_customer(version=0)))
