"""Outbox rows staged by `add_event`: inserted at commit, dropped with what rolls back, and
relayed with the trace context of the transaction that wrote them."""

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from crm_common import db
from crm_common.envelope import CloudEvent
from crm_common.kafka import create_broker, ensure_topics
from crm_common.outbox import OutboxEvent, OutboxRelay, add_event
from crm_common.telemetry import configure_tracing
from crm_common.testing.plugin import unique_topic
from opentelemetry import trace
from prometheus_client import CollectorRegistry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 30


def _event(number: int) -> CloudEvent[dict[str, Any]]:
    return CloudEvent[dict[str, Any]](source="test", type="test.thing.happened", data={"n": number})


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as session:
        rows = (await session.execute(select(OutboxEvent).order_by(OutboxEvent.seq))).scalars()  # type: ignore[arg-type]
        return [json.loads(row.payload)["data"]["n"] for row in rows]


async def test_staged_rows_are_inserted_at_commit_in_the_order_staged(engine: AsyncEngine) -> None:
    sessions = db.session_factory(engine)
    async with db.transaction(sessions) as session:
        for number in range(300):
            add_event(session, topic="t", key=str(number % 7), event=_event(number))
        # Nothing is written before the commit.
        assert (await session.execute(select(OutboxEvent))).first() is None

    assert await _stored(sessions) == list(range(300))


async def test_a_rollback_drops_the_staged_rows_and_the_session_starts_clean(
    engine: AsyncEngine,
) -> None:
    sessions = db.session_factory(engine)
    async with sessions() as session:
        await session.begin()
        add_event(session, topic="t", key=None, event=_event(1))
        await session.rollback()
        await session.begin()
        add_event(session, topic="t", key=None, event=_event(2))
        await session.commit()

    assert await _stored(sessions) == [2]


async def test_a_session_closed_without_commit_drops_the_staged_rows(engine: AsyncEngine) -> None:
    sessions = db.session_factory(engine)
    session = sessions()
    await session.begin()
    add_event(session, topic="t", key=None, event=_event(1))
    await session.close()
    await session.begin()
    add_event(session, topic="t", key=None, event=_event(2))
    await session.commit()
    await session.close()

    assert await _stored(sessions) == [2]


async def test_rolling_back_a_savepoint_drops_only_the_rows_staged_inside_it(
    engine: AsyncEngine,
) -> None:
    sessions = db.session_factory(engine)
    async with db.transaction(sessions) as session:
        add_event(session, topic="t", key=None, event=_event(1))
        savepoint = await session.begin_nested()
        add_event(session, topic="t", key=None, event=_event(2))
        await savepoint.rollback()
        async with session.begin_nested():
            add_event(session, topic="t", key=None, event=_event(3))
        add_event(session, topic="t", key=None, event=_event(4))

    assert await _stored(sessions) == [1, 3, 4]


async def test_flushes_between_stagings_keep_every_staged_row(engine: AsyncEngine) -> None:
    sessions = db.session_factory(engine)

    def flushed_row(number: int) -> OutboxEvent:
        payload = json.dumps({"data": {"n": number}}).encode()
        return OutboxEvent(
            event_id=str(number), topic="t", payload=payload, created_at=datetime.now(UTC)
        )

    async with db.transaction(sessions) as session:
        add_event(session, topic="t", key=None, event=_event(1))
        session.add(flushed_row(90))
        await session.flush()
        savepoint = await session.begin_nested()
        add_event(session, topic="t", key=None, event=_event(2))
        session.add(flushed_row(91))
        await session.flush()
        await savepoint.rollback()
        add_event(session, topic="t", key=None, event=_event(3))
        session.add(flushed_row(92))
        await session.flush()

    assert await _stored(sessions) == [90, 92, 1, 3]


async def test_the_relay_keeps_the_trace_context_of_the_writing_transaction(
    engine: AsyncEngine, kafka_bootstrap: str
) -> None:
    topic = unique_topic("test.outbox.trace")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    # A real provider, as every service process installs: FastStream's publish middleware
    # would then start a trace of its own for the relayed record.
    tracer = configure_tracing("test", None).get_tracer("test")
    sessions = db.session_factory(engine)
    with tracer.start_as_current_span("the request") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        async with db.transaction(sessions) as session:
            add_event(session, topic=topic, key="k", event=_event(1))
    assert trace.get_current_span() is trace.INVALID_SPAN

    broker = create_broker(kafka_bootstrap, client_id="test-relay", registry=CollectorRegistry())
    await broker.start()
    relay = OutboxRelay(engine, broker, poll_interval=0.1)
    relay.start()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        async with asyncio.timeout(DEADLINE_SECONDS):
            record = await consumer.getone()
    finally:
        await consumer.stop()
        await relay.stop()
        await broker.stop()

    headers = {name: value.decode() for name, value in record.headers}
    assert headers["traceparent"].split("-")[1] == trace_id
    assert headers["content-type"] == "application/cloudevents+json"
    assert json.loads(record.value)["data"] == {"n": 1}
