"""An event the broker will never take is parked with its reason, announced on its dead-letter
topic and counted, while every other event flows on, in order per key."""

import asyncio
import json
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError
from crm_common import db
from crm_common.asyncapi import Publishes, ServiceEvents, asyncapi_document
from crm_common.contracts import ContractRegistry
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import MAX_MESSAGE_BYTES, create_broker, dlq_topic, ensure_topics
from crm_common.outbox import OutboxEvent, OutboxRelay, ParkedOutboxEvent, add_event
from crm_common.redrive import redrive
from crm_common.testing.fakes import RecordingBroker
from crm_common.testing.plugin import unique_topic
from prometheus_client import REGISTRY, CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

DEADLINE_MS = 30_000


def _event(label: str, padding: int = 0) -> CloudEvent[dict[str, Any]]:
    return CloudEvent[dict[str, Any]](
        source="test", type="test.thing.changed", data={"label": label, "padding": "x" * padding}
    )


async def _read(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list[Any] = []
    try:
        while len(records) < count:
            batch = await consumer.getmany(timeout_ms=DEADLINE_MS)
            assert batch, f"{count - len(records)} records never reached {topic}"
            records += [record for part in batch.values() for record in part]
        # Nothing more than expected: one more short poll finds nothing.
        records += [r for part in (await consumer.getmany(timeout_ms=500)).values() for r in part]
    finally:
        await consumer.stop()
    return sorted(records, key=lambda record: record.offset)


def _parked_total(topic: str) -> float:
    return REGISTRY.get_sample_value("crm_outbox_parked_total", {"topic": topic}) or 0.0


async def _relay(engine: AsyncEngine, bootstrap: str) -> OutboxRelay:
    broker = create_broker(bootstrap, client_id="test-relay", registry=CollectorRegistry())
    await broker.start()
    return OutboxRelay(engine, broker, poll_interval=0.1)


async def test_an_event_larger_than_any_record_is_parked_and_the_rest_flow_on_in_order(
    engine: AsyncEngine, kafka_bootstrap: str
) -> None:
    topic = unique_topic("test.outbox.parking")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    sessions = db.session_factory(engine)
    huge = _event("huge", padding=MAX_MESSAGE_BYTES + 1000)
    keyed = [("k1", _event("a")), ("k1", huge), ("k1", _event("b")), ("k2", _event("c"))]
    async with db.transaction(sessions) as session:
        for key, item in keyed:
            add_event(session, topic=topic, key=key, event=item)
    parked_before = _parked_total(topic)

    relay = await _relay(engine, kafka_bootstrap)
    try:
        assert await relay.relay_once() == 4
        # The next batch is not held back either.
        async with db.transaction(sessions) as session:
            add_event(session, topic=topic, key="k1", event=_event("d"))
        assert await relay.relay_once() == 1
        await relay.measure_backlog()
    finally:
        await relay._producer._broker.stop()

    published = await _read(kafka_bootstrap, topic, 4)
    assert [json.loads(r.value)["data"]["label"] for r in published] == ["a", "b", "c", "d"]
    assert [r.key for r in published] == [b"k1", b"k1", b"k2", b"k1"]

    [dead] = await _read(kafka_bootstrap, dlq_topic(topic), 1)
    headers = {name: value.decode() for name, value in dead.headers}
    assert dead.key == b"k1"
    assert headers["x-dlq-event-id"] == huge.id
    assert headers["x-dlq-source-topic"] == topic
    assert "MessageSizeTooLarge" in headers["x-dlq-reason"]
    assert headers["x-dlq-payload-omitted"].endswith("kept in outbox_parked")
    assert dead.value == b""
    # As every service's AsyncAPI document describes it.
    publishing = ServiceEvents("test", publishes=(Publishes(topic, ()),))
    document = asyncapi_document(publishing, contracts=ContractRegistry(), version="1")
    documented = document["components"]["schemas"]["ParkedEventHeaders"]
    ours = {name for name in headers if name.startswith("x-dlq-")}
    assert ours == set(documented["properties"]) == set(documented["required"])
    # Re-driving the dead-letter topic sends no empty record back.
    assert await redrive(kafka_bootstrap, dlq_topic(topic)) == 0

    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
        [parked] = (await session.execute(select(ParkedOutboxEvent))).scalars().all()
    assert parked.event_id == huge.id
    assert parked.key == "k1"
    assert parked.payload == to_json_bytes(huge)
    assert "MessageSizeTooLarge" in parked.reason
    assert _parked_total(topic) == parked_before + 1
    assert REGISTRY.get_sample_value("crm_outbox_parked_events") == 1


class UnreachableBroker(RecordingBroker):
    """Takes every record and then fails its acknowledgement, as when the broker is down."""

    async def publish(self, command: Any) -> "asyncio.Future[None]":
        await super().publish(command)
        failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        failed.set_exception(KafkaConnectionError("broker unreachable"))
        return failed


async def test_a_broker_that_cannot_be_reached_parks_nothing(engine: AsyncEngine) -> None:
    sessions = db.session_factory(engine)
    async with db.transaction(sessions) as session:
        for label in ("a", "b"):
            add_event(session, topic="t", key="k", event=_event(label))

    relay = OutboxRelay(engine, UnreachableBroker())  # type: ignore[arg-type]
    with pytest.raises(KafkaConnectionError):
        await relay.relay_once()

    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 2
        assert await session.scalar(select(func.count()).select_from(ParkedOutboxEvent)) == 0
