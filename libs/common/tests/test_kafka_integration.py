"""The consumer wiring and the outbox relay against a real broker and database."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from crm_common import db
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.idempotency import first_delivery
from crm_common.kafka import PermanentEventError, create_broker, dlq_topic, ensure_topics, subscribe
from crm_common.outbox import OutboxEvent, OutboxRelay, add_event
from crm_common.redrive import redrive
from crm_common.testing.plugin import unique_topic
from sqlalchemy import func, select

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 30


async def _read(bootstrap: str, topic: str, count: int) -> list[Any]:
    """The first `count` records of `topic`, waiting up to the deadline."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(DEADLINE_SECONDS):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for partition_records in batch.values():
                    records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def _wait_for(predicate: Any) -> None:
    async with asyncio.timeout(DEADLINE_SECONDS):
        while not predicate():
            await asyncio.sleep(0.05)


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    yield producer
    await producer.stop()


def _event(number: int) -> CloudEvent[dict[str, Any]]:
    return CloudEvent[dict[str, Any]](
        source="test", type="test.thing.happened", subject=str(number), data={"n": number}
    )


async def test_bad_events_are_dead_lettered_and_the_partition_moves_on(
    kafka_bootstrap: str, producer: AIOKafkaProducer
) -> None:
    topic = unique_topic("test.consume")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    applied: list[int] = []
    attempts: dict[int, int] = {}

    async def handler(event: CloudEvent[dict[str, Any]]) -> None:
        number = event.data["n"]
        attempts[number] = attempts.get(number, 0) + 1
        if number == 2:
            raise PermanentEventError("two is not allowed")
        if number == 3:
            raise RuntimeError("always failing")
        applied.append(number)

    broker = create_broker(kafka_bootstrap, client_id="test-consumer")
    subscribe(broker, topic, group_id=unique_topic("g"), handler=handler, retry_backoff_seconds=0)
    await broker.start()
    try:
        await producer.send_and_wait(topic, b"{not json", key=b"k")
        for number in (1, 2, 3, 4):
            await producer.send_and_wait(topic, to_json_bytes(_event(number)), key=b"k")
        await _wait_for(lambda: 4 in applied)
    finally:
        await broker.stop()

    assert applied == [1, 4]
    assert attempts == {1: 1, 2: 1, 3: 3, 4: 1}
    dead = await _read(kafka_bootstrap, dlq_topic(topic), 3)
    reasons = [dict(record.headers)["x-dlq-reason"].decode() for record in dead]
    assert "invalid envelope" in reasons[0]
    assert "two is not allowed" in reasons[1]
    assert "failed 3 times: always failing" in reasons[2]
    assert dead[0].value == b"{not json"
    assert {dict(r.headers)["x-dlq-source-topic"].decode() for r in dead} == {topic}


async def test_events_committed_while_no_relay_runs_are_published_later(
    kafka_bootstrap: str, engine: Any
) -> None:
    topic = unique_topic("test.outbox")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    sessions = db.session_factory(engine)
    events = [_event(n) for n in range(5)]
    # The state change and its events commit with no relay running: as if the process died
    # right after the commit.
    async with db.transaction(sessions) as session:
        for item in events:
            add_event(session, topic=topic, key="k", event=item)

    broker = create_broker(kafka_bootstrap, client_id="test-relay")
    await broker.start()
    relay = OutboxRelay(engine, broker, poll_interval=0.1)
    relay.start()
    try:
        records = await _read(kafka_bootstrap, topic, 5)
        async with sessions() as session:
            await _wait_for_empty_outbox(session)
    finally:
        await relay.stop()
        await broker.stop()

    assert [json.loads(r.value)["id"] for r in records] == [e.id for e in events]
    assert all(r.key == b"k" for r in records)
    assert dict(records[0].headers)["content-type"] == b"application/cloudevents+json"


async def _wait_for_empty_outbox(session: Any) -> None:
    async with asyncio.timeout(DEADLINE_SECONDS):
        while await session.scalar(select(func.count()).select_from(OutboxEvent)):
            await session.rollback()
            await asyncio.sleep(0.05)


async def test_a_rolled_back_transaction_publishes_nothing(engine: Any) -> None:
    sessions = db.session_factory(engine)

    async def failing_change() -> None:
        async with db.transaction(sessions) as session:
            add_event(session, topic="t", key=None, event=_event(1))
            raise RuntimeError("state change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


async def test_an_event_id_is_applied_once_per_consumer(engine: Any) -> None:
    sessions = db.session_factory(engine)
    async with db.transaction(sessions) as session:
        assert await first_delivery(session, consumer="a", event_id="e1")
        assert not await first_delivery(session, consumer="a", event_id="e1")
        assert await first_delivery(session, consumer="b", event_id="e1")


async def test_redrive_returns_parked_events_to_their_topic_once(
    kafka_bootstrap: str, producer: AIOKafkaProducer
) -> None:
    topic = unique_topic("test.redrive")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    parked = to_json_bytes(_event(7))
    await producer.send_and_wait(
        dlq_topic(topic),
        parked,
        key=b"k7",
        headers=[("x-dlq-source-topic", topic.encode()), ("x-dlq-reason", b"bug"), ("a", b"1")],
    )

    assert await redrive(kafka_bootstrap, dlq_topic(topic), dry_run=True) == 1
    assert await redrive(kafka_bootstrap, dlq_topic(topic)) == 1
    assert await redrive(kafka_bootstrap, dlq_topic(topic)) == 0

    [record] = await _read(kafka_bootstrap, topic, 1)
    assert (record.key, record.value) == (b"k7", parked)
    assert dict(record.headers) == {"a": b"1", "x-redriven-from": dlq_topic(topic).encode()}
