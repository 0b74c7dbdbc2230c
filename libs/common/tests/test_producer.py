"""What the record producer relies on in FastStream and aiokafka, pinned against the real
broker: an upgrade that changes it fails here rather than in the outbox relay."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import MessageSizeTooLargeError
from crm_common.kafka import MAX_MESSAGE_BYTES, create_broker, ensure_topics
from crm_common.producer import UNPUBLISHABLE, RecordProducer
from crm_common.testing.plugin import unique_topic
from prometheus_client import CollectorRegistry

pytestmark = pytest.mark.integration


async def test_records_arrive_as_given_and_an_oversized_one_is_refused_before_queuing(
    kafka_bootstrap: str,
) -> None:
    topic = unique_topic("test.producer")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    broker = create_broker(kafka_bootstrap, client_id="test-producer", registry=CollectorRegistry())
    await broker.start()
    producer = RecordProducer(broker)
    headers = {"content-type": "application/cloudevents+json", "traceparent": "00-ab-cd-01"}
    try:
        first = await producer.send(topic=topic, key=b"k", value=b'{"n": 1}', headers=headers)
        # Queued, not yet acknowledged: the caller decides when to wait.
        assert isinstance(first, asyncio.Future)
        with pytest.raises(UNPUBLISHABLE) as refused:
            await producer.send(
                topic=topic, key=b"k", value=b"x" * (MAX_MESSAGE_BYTES + 1), headers=headers
            )
        assert isinstance(refused.value, MessageSizeTooLargeError)
        second = await producer.send(topic=topic, key=None, value=b"\x00raw", headers={})
        first_metadata, second_metadata = await asyncio.gather(first, second)
        assert (first_metadata.topic, first_metadata.offset) == (topic, 0)
        assert second_metadata.offset == 1
    finally:
        await broker.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=30_000, max_records=10)
        records = [record for part in batch.values() for record in part]
        while len(records) < 2:
            batch = await consumer.getmany(timeout_ms=30_000)
            assert batch, "the records never arrived"
            records += [record for part in batch.values() for record in part]
    finally:
        await consumer.stop()
    assert [(r.key, r.value) for r in records] == [(b"k", b'{"n": 1}'), (None, b"\x00raw")]
    # The bytes and headers as given: no re-encoding, no header of FastStream's own beside ours
    # (an empty content-type is its default for a record that names none).
    assert [dict(r.headers) for r in records] == [
        {name: value.encode() for name, value in headers.items()},
        {"content-type": b""},
    ]
