"""An outage of the store is no fault of the events: consumers pause and try again until it is
back, and dead-letter nothing."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from crm_common import db, kafka
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import create_broker, dlq_topic, ensure_topics, subscribe, subscribe_batch
from crm_common.outages import is_outage
from crm_common.testing.network import CuttableProxy
from crm_common.testing.plugin import unique_topic
from prometheus_client import REGISTRY, CollectorRegistry
from pymongo import AsyncMongoClient
from pymongo.errors import ServerSelectionTimeoutError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

DEADLINE_SECONDS = 60
Event = CloudEvent[dict[str, Any]]


async def _until(condition: Any, what: str) -> None:
    async with asyncio.timeout(DEADLINE_SECONDS):
        while not await condition():
            await asyncio.sleep(0.1)


def _sample(name: str, topic: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"topic": topic, **labels}) or 0.0


@pytest.fixture
async def proxy(fresh_database: str) -> AsyncIterator[CuttableProxy]:
    address = urlsplit(fresh_database)
    proxy = CuttableProxy(address.hostname or "127.0.0.1", address.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.stop()


def _through(url: str, proxy: CuttableProxy) -> str:
    address = urlsplit(url)
    netloc = f"{address.username}:{address.password}@127.0.0.1:{proxy.port}"
    return urlunsplit(address._replace(netloc=netloc))


@pytest.mark.integration
@pytest.mark.parametrize(
    ("batched", "wait_per_delivery"),
    [(True, 30.0), (False, 30.0), (True, 0.5)],
    ids=["batch", "one-at-a-time", "batch-handed-back-during-the-outage"],
)
async def test_events_met_by_a_store_outage_are_applied_once_it_is_back_and_none_dead_lettered(
    engine: AsyncEngine,
    fresh_database: str,
    proxy: CuttableProxy,
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
    batched: bool,
    wait_per_delivery: float,
) -> None:
    monkeypatch.setattr(kafka, "_OUTAGE_WAIT_PER_DELIVERY_SECONDS", wait_per_delivery)
    monkeypatch.setattr(kafka, "OUTAGE_MAX_PAUSE_SECONDS", 0.5)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE applied (event_id text PRIMARY KEY)"))
    store = db.create_engine(_through(fresh_database, proxy))
    topic = unique_topic("test.outage")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)

    async def apply(events: Sequence[Event]) -> None:
        async with store.begin() as connection:
            await connection.execute(
                text("INSERT INTO applied VALUES (:id)"), [{"id": e.id} for e in events]
            )

    async def handle_batch(events: Sequence[Event]) -> None:
        await apply(events)

    async def handle_one(event: Event) -> None:
        await apply([event])

    async def applied() -> int:
        async with engine.connect() as connection:
            return int(await connection.scalar(text("SELECT count(*) FROM applied")) or 0)

    broker = create_broker(kafka_bootstrap, client_id="test-outage", registry=CollectorRegistry())
    group_id = unique_topic("g")
    if batched:
        subscribe_batch(broker, topic, group_id=group_id, handler=handle_batch)
    else:
        subscribe(broker, topic, group_id=group_id, handler=handle_one)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await broker.start()
    events = [Event(source="test", type="test.thing.happened", data={"n": n}) for n in range(40)]
    retries_before = _sample("crm_consumer_outage_retries_total", topic)
    try:
        for event in events[:20]:
            await producer.send(topic, to_json_bytes(event), key=b"k")
        await _until(lambda: _equals(applied, 20), "the first events applied")

        await proxy.cut()
        for event in events[20:]:
            await producer.send(topic, to_json_bytes(event), key=b"k")
        await producer.flush()
        # Far more tries than the consumer's bounded retries allow for an event at fault.
        await _until(
            lambda: _true(
                _sample("crm_consumer_outage_retries_total", topic) >= retries_before + 8
            ),
            "the consumer trying again through the outage",
        )
        assert _sample("crm_consumer_paused", topic) == 1
        assert await applied() == 20

        await proxy.restore()
        await _until(lambda: _equals(applied, 40), "every event applied after the outage")
        await _until(
            lambda: _true(_sample("crm_consumer_paused", topic) == 0), "the consumer resumed"
        )
    finally:
        await broker.stop()
        await producer.stop()
        await store.dispose()

    assert _sample("crm_consumer_events_total", topic, outcome="dead_lettered") == 0
    assert await _end_offset(kafka_bootstrap, dlq_topic(topic)) == 0


async def _equals(count: Any, expected: int) -> bool:
    return bool(await count() == expected)


async def _true(value: bool) -> bool:
    return value


async def _end_offset(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or {0}]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


@pytest.mark.integration
async def test_what_an_unreachable_store_raises_is_an_outage(engine: AsyncEngine) -> None:
    unreachable = db.create_engine("postgresql+asyncpg://crm:crm@127.0.0.1:1/nothing")
    with pytest.raises((OSError, DBAPIError)) as refused:
        async with unreachable.connect() as connection:
            await connection.execute(text("SELECT 1"))
    await unreachable.dispose()
    assert is_outage(refused.value)

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        "mongodb://127.0.0.1:1", serverSelectionTimeoutMS=100
    )
    with pytest.raises(ServerSelectionTimeoutError) as unselected:
        await mongo["db"]["c"].find_one({})
    await mongo.close()
    assert is_outage(unselected.value)

    # A reachable store refusing the work itself is no outage.
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE once (id int PRIMARY KEY)"))
        await connection.execute(text("INSERT INTO once VALUES (1)"))
    with pytest.raises(IntegrityError) as duplicate:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO once VALUES (1)"))
    assert not is_outage(duplicate.value)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.CannotConnectNowError("the database system is not yet accepting connections"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        ),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        KafkaConnectionError("Unable to bootstrap from 127.0.0.1:9092"),
        ConnectionRefusedError(111, "Connect call failed"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_of_a_store_or_broker_out_of_reach_are_outages(error: Exception) -> None:
    assert is_outage(error)
    # Also when a library raised its own error from it.
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = error
    assert is_outage(wrapped)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad amount"),
        asyncpg.UniqueViolationError("duplicate key value"),
        asyncpg.InvalidTextRepresentationError("invalid input syntax for type integer"),
        MessageSizeTooLargeError("too large"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_of_the_event_itself_are_no_outages(error: Exception) -> None:
    assert not is_outage(error)
