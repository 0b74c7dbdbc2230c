"""The subscriptions, on FastStream's in-memory broker: no Kafka and no store."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from campaign import worker
from campaign.config import Settings
from campaign.contacts import service
from campaign.main import create_app
from campaign.segments import service as segments
from crm_common.envelope import to_json_bytes
from crm_events.customer import CUSTOMER_CREATED, CUSTOMER_IDENTITY_LINKED, CustomerSnapshot
from crm_events.topics import CRM_CUSTOMERS, dlq
from faststream.kafka import KafkaMessage, TestKafkaBroker


class Recorded:
    def __init__(self) -> None:
        self.applied: list[tuple[str, Any]] = []
        self.dead_letters: list[dict[str, Any]] = []


@pytest.fixture
async def recorded(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Any, Recorded]]:
    """An in-memory broker with the service's subscriptions; the store is replaced by a record."""
    record = Recorded()

    async def apply_customer_changes(*, session: Any, events: Any) -> None:
        record.applied.extend((event.event_id, event.change) for event in events)

    async def segments_apply(**_: Any) -> None:
        """Segments' own consumers of the same events are tested on real infrastructure."""

    monkeypatch.setattr(service, "apply_customer_changes", apply_customer_changes)
    monkeypatch.setattr(segments, "apply_customer_changes", segments_apply)
    real = create_app(Settings(jwt_public_key="unused")).state.runtime.broker

    @real.subscriber(dlq(CRM_CUSTOMERS))
    async def capture(message: KafkaMessage) -> None:
        record.dead_letters.append(message.headers)

    async with TestKafkaBroker(real) as test_broker:
        yield test_broker, record


async def test_customer_events_reach_the_contact_service(recorded):
    test_broker, record = recorded
    event = CUSTOMER_CREATED.event(CUSTOMER_CREATED.model.model_validate(CUSTOMER_CREATED.example))

    await test_broker.publish(to_json_bytes(event), CRM_CUSTOMERS)

    assert len(record.applied) == 1
    event_id, change = record.applied[0]
    assert event_id == event.id
    assert isinstance(change, CustomerSnapshot)
    assert change.customer_id == CUSTOMER_CREATED.example["customer_id"]
    assert record.dead_letters == []


async def test_event_breaking_its_contract_is_dead_lettered(recorded):
    test_broker, record = recorded
    event = CUSTOMER_CREATED.event(CUSTOMER_CREATED.model.model_validate(CUSTOMER_CREATED.example))
    body = to_json_bytes(event).replace(b'"version":1', b'"version":0')

    await test_broker.publish(body, CRM_CUSTOMERS)

    assert record.applied == []
    # Each consumer group of the topic (contacts, segments) refuses it on its own.
    groups = {
        c.group_id
        for c in worker.events(Settings.model_construct()).consumes
        if c.topic == CRM_CUSTOMERS
    }
    assert {letter["x-dlq-consumer-group"] for letter in record.dead_letters} == groups
    assert len(record.dead_letters) == len(groups) == 2
    for letter in record.dead_letters:
        assert letter["x-dlq-error"] == "ValidationError"
        assert "crm.customer.created" in letter["x-dlq-reason"]


async def test_event_of_no_interest_is_acknowledged_and_skipped(recorded):
    test_broker, record = recorded
    data = CUSTOMER_IDENTITY_LINKED.model.model_validate(CUSTOMER_IDENTITY_LINKED.example)

    await test_broker.publish(to_json_bytes(CUSTOMER_IDENTITY_LINKED.event(data)), CRM_CUSTOMERS)

    assert record.applied == []
    assert record.dead_letters == []
