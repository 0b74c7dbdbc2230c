"""Measured gauges on the real broker and database: consumer lag and the outbox's oldest event."""

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from crm_common import db
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import create_broker, ensure_topics, subscribe, subscribe_batch
from crm_common.metrics import ConsumerLag
from crm_common.outbox import OutboxEvent, OutboxRelay, add_event
from crm_common.testing.plugin import unique_topic
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy import func, select, update

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 30
Event = CloudEvent[dict[str, Any]]


def _event(number: int) -> Event:
    return Event(source="test", type="test.thing.happened", subject=str(number), data={"n": number})


def _lag(topic: str, group: str) -> float | None:
    return REGISTRY.get_sample_value(
        "crm_consumer_lag_messages", {"topic": topic, "partition": "0", "group": group}
    )


async def _until(condition: Callable[[], Any], *, refresh: Callable[[], Any] | None = None) -> None:
    """Poll (refreshing the gauges first, when asked) until `condition()` holds."""
    async with asyncio.timeout(DEADLINE_SECONDS):
        while True:
            if refresh is not None:
                await refresh()
            if condition():
                return
            await asyncio.sleep(0.1)


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    yield producer
    await producer.stop()


def _subscribe_blocked(
    broker: KafkaBroker, topic: str, group: str, *, batch: bool, gate: asyncio.Event
) -> tuple[list[int], asyncio.Event]:
    """Subscribe a handler that waits for `gate` before applying anything; returns what it
    applied and an event set once it has received its first record."""
    applied: list[int] = []
    entered = asyncio.Event()

    async def apply(events: Sequence[Event]) -> None:
        entered.set()
        await gate.wait()
        applied.extend(event.data["n"] for event in events)

    async def one(event: Event) -> None:
        await apply([event])

    if batch:
        subscribe_batch(broker, topic, group_id=group, handler=apply, retry_backoff_seconds=0)
    else:
        subscribe(broker, topic, group_id=group, handler=one, retry_backoff_seconds=0)
    return applied, entered


@pytest.mark.parametrize("batch", [False, True], ids=["one-at-a-time", "batched"])
async def test_lag_counts_unfinished_records_and_falls_to_zero_once_consumed(
    kafka_bootstrap: str, producer: AIOKafkaProducer, batch: bool
) -> None:
    topic, group = unique_topic("test.lag"), unique_topic("g")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    for number in range(7):
        await producer.send_and_wait(topic, to_json_bytes(_event(number)), key=b"k")

    broker = create_broker(kafka_bootstrap, client_id="test-lag", registry=CollectorRegistry())
    gate = asyncio.Event()
    applied, entered = _subscribe_blocked(broker, topic, group, batch=batch, gate=gate)
    lag = ConsumerLag(broker)
    await broker.start()
    try:
        # The handler holds the first record (the batched one: all seven): nothing is done yet,
        # though the consumer's position has moved past what it fetched.
        await asyncio.wait_for(entered.wait(), DEADLINE_SECONDS)
        await _until(lambda: _lag(topic, group) is not None, refresh=lag.refresh)
        assert _lag(topic, group) == 7
        series = f'crm_consumer_lag_messages{{group="{group}",partition="0",topic="{topic}"}}'
        assert f"{series} 7.0" in generate_latest().decode()

        gate.set()
        await _until(lambda: len(applied) == 7)
        await _until(lambda: _lag(topic, group) == 0, refresh=lag.refresh)

        await producer.send_and_wait(topic, to_json_bytes(_event(7)), key=b"k")
        await _until(lambda: len(applied) == 8)
        await _until(lambda: _lag(topic, group) == 0, refresh=lag.refresh)
    finally:
        await broker.stop()

    assert sorted(applied) == list(range(8))
    # A stopped consumer owns no partition any more: its series goes.
    await lag.refresh()
    assert _lag(topic, group) is None


async def test_lag_rises_with_records_a_stuck_consumer_has_not_reached(
    kafka_bootstrap: str, producer: AIOKafkaProducer
) -> None:
    topic, group = unique_topic("test.lag"), unique_topic("g")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    broker = create_broker(kafka_bootstrap, client_id="test-lag", registry=CollectorRegistry())
    gate = asyncio.Event()
    applied, entered = _subscribe_blocked(broker, topic, group, batch=False, gate=gate)
    lag = ConsumerLag(broker)
    await broker.start()
    try:
        await _until(lambda: _lag(topic, group) == 0, refresh=lag.refresh)
        for number in range(5):
            await producer.send_and_wait(topic, to_json_bytes(_event(number)), key=b"k")
        await asyncio.wait_for(entered.wait(), DEADLINE_SECONDS)
        await _until(lambda: _lag(topic, group) == 5, refresh=lag.refresh)
        gate.set()
        await _until(lambda: _lag(topic, group) == 0, refresh=lag.refresh)
    finally:
        lag.clear()
        await broker.stop()
    assert applied == [0, 1, 2, 3, 4]
    assert _lag(topic, group) is None


def _outbox_age() -> float | None:
    return REGISTRY.get_sample_value("crm_outbox_oldest_event_age_seconds")


async def test_outbox_age_is_the_oldest_unpublished_event_and_zero_once_relayed(
    kafka_bootstrap: str, engine: Any
) -> None:
    topic = unique_topic("test.outbox-age")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    sessions = db.session_factory(engine)
    async with db.transaction(sessions) as session:
        for number in range(3):
            add_event(session, topic=topic, key="k", event=_event(number))
    # As if the relay had been unable to publish for a minute and a half.
    async with db.transaction(sessions) as session:
        await session.execute(
            update(OutboxEvent).values(
                created_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 1, 30)
            )
        )

    broker = create_broker(kafka_bootstrap, client_id="test-relay", registry=CollectorRegistry())
    relay = OutboxRelay(engine, broker, poll_interval=0.1)
    await relay.measure_backlog()
    age = _outbox_age()
    assert age is not None
    assert 90 <= age < 90 + DEADLINE_SECONDS
    assert REGISTRY.get_sample_value("crm_outbox_backlog") == 3

    await broker.start()
    relay.start()
    try:
        await _until(lambda: _outbox_age() == 0)
    finally:
        await relay.stop()
        await broker.stop()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
    await relay.measure_backlog()
    assert _outbox_age() == 0
    assert REGISTRY.get_sample_value("crm_outbox_backlog") == 0
