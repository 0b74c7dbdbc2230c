"""Batched consumption against a real broker: a poison event inside a batch is isolated."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import (
    PermanentEventError,
    Rejections,
    create_broker,
    dlq_topic,
    ensure_topics,
    subscribe_batch,
)
from crm_common.testing.plugin import unique_topic
from prometheus_client import CollectorRegistry

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 30
Event = CloudEvent[dict[str, Any]]


def _event(number: int) -> Event:
    return Event(source="test", type="test.thing.happened", subject=str(number), data={"n": number})


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


async def _committed(bootstrap: str, topic: str, group_id: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=20)
    await producer.start()
    yield producer
    await producer.stop()


async def test_a_poison_event_in_a_batch_is_dead_lettered_and_the_others_applied_once(
    kafka_bootstrap: str, producer: AIOKafkaProducer
) -> None:
    topic = unique_topic("test.batch")
    group_id = unique_topic("g")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    events = [_event(n) for n in range(40)]
    poison, rejected = events[17], events[30]
    applied: Counter[str] = Counter()
    batch_sizes: list[int] = []

    async def handler(batch: Sequence[Event]) -> Rejections:
        # All or nothing, as one database transaction would be.
        batch_sizes.append(len(batch))
        if any(event.id == poison.id for event in batch):
            raise RuntimeError("poison breaks the transaction")
        verdicts: dict[int, Exception] = {}
        for position, event in enumerate(batch):
            if event.id == rejected.id:
                verdicts[position] = PermanentEventError("refused on its merits")
        applied.update(event.id for position, event in enumerate(batch) if position not in verdicts)
        return verdicts

    # Everything is on the topic before the consumer starts, so the first fetch is one batch.
    sent = [await producer.send(topic, to_json_bytes(event), key=b"same-key") for event in events]
    await asyncio.gather(*sent)

    broker = create_broker(kafka_bootstrap, client_id="test-batch", registry=CollectorRegistry())
    subscribe_batch(
        broker,
        topic,
        group_id=group_id,
        handler=handler,
        max_records=500,
        retry_backoff_seconds=0,
    )
    await broker.start()
    try:
        dead = await _read(kafka_bootstrap, dlq_topic(topic), 2)
        async with asyncio.timeout(DEADLINE_SECONDS):
            while await _committed(kafka_bootstrap, topic, group_id) != len(events):
                await asyncio.sleep(0.1)
    finally:
        await broker.stop()

    assert batch_sizes[0] == len(events)
    good = [event.id for event in events if event.id not in (poison.id, rejected.id)]
    assert applied == Counter(good)  # each exactly once
    reasons = {
        CloudEvent[dict[str, Any]].model_validate_json(record.value).id: dict(record.headers)
        for record in dead
    }
    assert set(reasons) == {poison.id, rejected.id}
    assert b"failed 3 times: poison breaks the transaction" in reasons[poison.id]["x-dlq-reason"]
    assert reasons[poison.id]["x-dlq-source-offset"] == b"17"
    assert reasons[rejected.id]["x-dlq-reason"].endswith(b"refused on its merits")
    assert {record.key for record in dead} == {b"same-key"}
