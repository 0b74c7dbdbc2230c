"""The subscriptions, on FastStream's in-memory broker: no Kafka and no store."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from crm_common.envelope import to_json_bytes
from crm_events.customer import CUSTOMER_CREATED, CUSTOMER_IDENTITY_LINKED, CustomerSnapshot
from crm_events.topics import CRM_CUSTOMERS, dlq
from faststream.kafka import KafkaMessage, TestKafkaBroker
from support_ticket.config import Settings
from support_ticket.customers import service
from support_ticket.main import create_app


class Recorded:
    def __init__(self) -> None:
        self.applied: list[tuple[str, Any]] = []
        self.dead_letters: list[dict[str, Any]] = []


@pytest.fixture
async def recorded(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Any, Recorded]]:
    """An in-memory broker with the service's subscriptions; the store is replaced by a record."""
    record = Recorded()

    async def apply_customer_changes(*, database: Any, events: Any) -> None:
        record.applied.extend((event.event_id, event.change) for event in events)

    monkeypatch.setattr(service, "apply_customer_changes", apply_customer_changes)
    real = create_app(Settings(jwt_public_key="unused")).state.runtime.broker

    @real.subscriber(dlq(CRM_CUSTOMERS))
    async def capture(message: KafkaMessage) -> None:
        record.dead_letters.append(message.headers)

    async with TestKafkaBroker(real) as test_broker:
        yield test_broker, record


async def test_customer_events_reach_the_customer_service(recorded):
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
    assert len(record.dead_letters) == 1
    assert record.dead_letters[0]["x-dlq-error"] == "ValidationError"
    assert "crm.customer.created" in record.dead_letters[0]["x-dlq-reason"]


async def test_event_of_no_interest_is_acknowledged_and_skipped(recorded):
    test_broker, record = recorded
    data = CUSTOMER_IDENTITY_LINKED.model.model_validate(CUSTOMER_IDENTITY_LINKED.example)

    await test_broker.publish(to_json_bytes(CUSTOMER_IDENTITY_LINKED.event(data)), CRM_CUSTOMERS)

    assert record.applied == []
    assert record.dead_letters == []
