"""Stopping the service (what SIGTERM does once HTTP has drained): the consumers finish and
commit the batch in hand, and the relay publishes what they stored before the producer closes."""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from asgi_lifespan import LifespanManager
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import ensure_topics
from order_sync import worker
from order_sync.config import Settings
from order_sync.main import create_app

pytestmark = pytest.mark.integration

Json = dict[str, Any]
ORDERS = 3000


async def _committed(bootstrap: str, topic: str, group_id: str, partitions: int) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id)
    await consumer.start()
    try:
        offsets = [await consumer.committed(TopicPartition(topic, p)) for p in range(partitions)]
    finally:
        await consumer.stop()
    return sum(offset or 0 for offset in offsets)


async def _placed(bootstrap: str, topic: str, expected: int) -> set[str]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    subjects: set[str] = set()
    try:
        # Everything is published already: read until a poll finds nothing more.
        while batch := await consumer.getmany(timeout_ms=2000):
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value)
                    if event["type"] == "crm.order.placed":
                        subjects.add(event["subject"])
            if len(subjects) > expected:
                break
    finally:
        await consumer.stop()
    return subjects


async def test_stopping_mid_stream_commits_every_batch_it_stored_and_publishes_its_events(
    settings: Settings,
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    store_id: str,
) -> None:
    bootstrap = settings.kafka_bootstrap_servers
    topic = settings.shop_orders_topic
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=90, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://o") as client:
            await register_store(client, store_id)
    await ensure_topics(bootstrap, [topic], partitions=settings.kafka_topic_partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        sent = [
            await producer.send(
                topic,
                to_json_bytes(
                    CloudEvent[Json](
                        source="shop/test",
                        type="shop.order.upserted",
                        data=make_order(store_id, str(n)),
                    )
                ),
                key=str(n).encode(),
            )
            for n in range(ORDERS)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    database = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))

    async def stored() -> int:
        return int(await database.fetchval("SELECT count(*) FROM orders") or 0)

    app = create_app(settings)
    manager = LifespanManager(app, startup_timeout=90, shutdown_timeout=60)
    await manager.__aenter__()
    try:
        async with asyncio.timeout(60):
            while await stored() == 0:
                await asyncio.sleep(0.05)
    finally:
        stopping = time.monotonic()
        await manager.__aexit__(None, None, None)
        stopped_in = time.monotonic() - stopping

    try:
        orders = await stored()
        waiting = await database.fetchval("SELECT count(*) FROM outbox_events")
    finally:
        await database.close()
    # Stopped in the middle of the stream, within the time a pod is given.
    assert 0 < orders < ORDERS
    assert stopped_in < 2.5 * settings.shutdown_drain_seconds
    # Every order stored was committed on the topic (none to take in again), and nothing it
    # owed waits in the outbox: every placed event is on crm.orders.v1.
    committed = await _committed(
        bootstrap, topic, worker.SHOP_ORDERS_GROUP, settings.kafka_topic_partitions
    )
    assert committed == orders
    assert waiting == 0
    assert len(await _placed(bootstrap, settings.orders_topic, orders)) == orders
